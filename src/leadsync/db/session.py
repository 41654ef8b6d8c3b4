"""Session helpers for the request/job boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from leadsync.db.engine import SQLITE_BEGIN

#: Whatever a database call can raise. Named here so that routers, which may not import
#: sqlalchemy (the `routers-no-sql` import contract), can still catch it.
DatabaseError = SQLAlchemyError


async def begin_read(session: AsyncSession) -> None:
    """Start the session's next transaction as a reader.

    On SQLite our default BEGIN IMMEDIATE takes the database's single write lock; a
    read-only step (and above all one that then waits on the network) must not hold it.
    On PostgreSQL the option is ignored.
    """
    await session.connection(execution_options={SQLITE_BEGIN: "DEFERRED"})


@asynccontextmanager
async def read_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose first transaction only reads."""
    async with sessionmaker() as session:
        await begin_read(session)
        yield session


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose transaction only reads: for a hot path's single query, where a
    session's own bookkeeping would cost more than the query (a webhook's secret check)."""
    async with engine.connect() as conn:
        yield await conn.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
