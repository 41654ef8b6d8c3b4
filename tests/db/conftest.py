"""Fixtures of the database tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.migrate import upgrade


@pytest.fixture
async def sqlite_sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a migrated SQLite file, through the engine the service uses."""
    upgrade(url=sqlite_url)
    engine = create_engine_for(sqlite_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
