"""The whole push stack for end-to-end tests: the real ResMan sandbox and the real API, each
served by uvicorn on loopback, over a real (SQLite or PostgreSQL) database (``running_stack``
in tests/stack_server.py, shared with the dashboard's tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stack import Stack
from stack_server import running_stack


@pytest.fixture
async def stack(
    migrated_db_url: str, data_dir: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    marker = request.node.get_closest_marker("stack_settings")
    overrides = marker.kwargs if marker is not None else {}
    async with running_stack(db_url=migrated_db_url, data_dir=data_dir, **overrides) as running:
        yield running
