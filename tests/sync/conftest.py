"""The engine on its own, without our HTTP API: a Runtime on the test's database (SQLite,
then PostgreSQL) whose integration talks to the bundled sandbox, on a free loopback port,
through the real ResMan client. Nothing is started: a test drives the runner, the
scheduler or one flow's functions itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sync.sync_kit import Engine, running_engine


@pytest.fixture
async def engine_kit(migrated_db_url: str, data_dir: Path) -> AsyncIterator[Engine]:
    async with running_engine(database_url=migrated_db_url, data_dir=data_dir) as engine:
        yield engine
