"""The security suite runs against the same real stack as the end-to-end tests
(``running_stack`` in tests/stack_server.py)."""

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
