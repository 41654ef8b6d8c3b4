"""SQLite statements run on the event loop's thread (db/sqlite_inline.py); only a BEGIN that
finds another process's lock waits, on the connection's own thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.models import Property
from leadsync.db.session import read_session
from leadsync.db.sqlite_inline import InlineConnection
from stack import wait_until

SessionFactory = async_sessionmaker[AsyncSession]


async def _driver(session: AsyncSession) -> InlineConnection:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, InlineConnection)
    return driver


def _trace_threads(driver: InlineConnection) -> list[tuple[str, int]]:
    """Every statement the connection runs from now on, with the thread that ran it."""
    seen: list[tuple[str, int]] = []
    driver._conn.set_trace_callback(lambda sql: seen.append((sql, threading.get_ident())))
    return seen


async def test_statements_run_on_the_event_loops_thread(sqlite_sessions: SessionFactory) -> None:
    loop_thread = threading.get_ident()
    async with sqlite_sessions() as session:
        seen = _trace_threads(await _driver(session))
        await session.commit()  # the first transaction began before the trace
        session.add(Property(name="Inline"))
        await session.flush()
        assert await session.scalar(select(Property.name).where(Property.name == "Inline"))
        await session.commit()
    statements = [sql.split()[0].upper() for sql, _ in seen]
    assert "BEGIN" in statements
    assert "INSERT" in statements
    assert "SELECT" in statements
    assert "COMMIT" in statements
    # Uncontended, even the BEGIN IMMEDIATE ran inline: no statement took a thread hop.
    assert {thread for _, thread in seen} == {loop_thread}


async def test_a_begin_that_meets_another_processs_lock_waits_off_the_loop(
    sqlite_sessions: SessionFactory,
) -> None:
    engine = sqlite_sessions.kw["bind"]
    database = make_url(str(engine.url)).database
    assert database is not None
    # Another process's writer, as SQLite sees it: a second connection holding the lock.
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with sqlite_sessions() as session, session.begin():
            session.add(Property(name="Waited"))

    writer = asyncio.create_task(write())
    ticks = 0

    async def loop_keeps_running() -> bool:
        nonlocal ticks
        ticks += 1
        return ticks >= 20

    # The loop keeps serving others while the writer waits in SQLite's busy handler...
    await wait_until(loop_keeps_running, within=30, interval=0.01)
    # ...and readers pass beside both writers (WAL).
    async with read_session(sqlite_sessions) as reader:
        assert await reader.scalar(text("SELECT count(*) FROM property WHERE name = 'Waited'")) == 0
    assert not writer.done()
    other.execute("ROLLBACK")
    other.close()
    await asyncio.wait_for(writer, timeout=60)
    async with read_session(sqlite_sessions) as reader:
        names = set(await reader.scalars(select(Property.name)))
    assert "Waited" in names
