"""The dashboard's tests run against the real stack (``running_stack``: API + sandbox on
loopback ports, SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stack import Stack
from stack_server import running_stack


@pytest.fixture
async def stack(migrated_db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    async with running_stack(db_url=migrated_db_url, data_dir=data_dir) as running:
        yield running
