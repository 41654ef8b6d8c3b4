"""URL handling, SQLite connection settings and transaction behaviour, optimistic locking."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from leadsync.db.engine import (
    SQLITE_BEGIN,
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_POOL_SIZE,
    backend_name,
    create_engine_for,
    normalize_url,
    sync_url,
)
from leadsync.db.models import Conversation, Property
from leadsync.db.session import read_connection, read_session
from leadsync.db.write_lock import write_lock_of
from leadsync.errors import ConfigurationError
from stack import wait_until

SessionFactory = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize(
    ("given", "async_url", "alembic_url"),
    [
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db", "sqlite+pysqlite:///data/x.db"),
        (
            "sqlite+aiosqlite:////abs/x.db",
            "sqlite+aiosqlite:////abs/x.db",
            "sqlite+pysqlite:////abs/x.db",
        ),
        (
            "postgresql://u:p%40ss@db:5432/leads",
            "postgresql+psycopg://u:p%40ss@db:5432/leads",
            "postgresql+psycopg://u:p%40ss@db:5432/leads",
        ),
        (
            "postgres://u@db/leads?sslmode=require",
            "postgresql+psycopg://u@db/leads?sslmode=require",
            "postgresql+psycopg://u@db/leads?sslmode=require",
        ),
        (
            "postgresql+psycopg://u@db/leads",
            "postgresql+psycopg://u@db/leads",
            "postgresql+psycopg://u@db/leads",
        ),
    ],
)
def test_urls_are_normalised(given: str, async_url: str, alembic_url: str) -> None:
    assert normalize_url(given) == async_url
    assert sync_url(given) == alembic_url
    assert sync_url(async_url) == alembic_url


def test_backend_name() -> None:
    assert backend_name("sqlite+aiosqlite:///x.db") == "sqlite"
    assert backend_name("postgres://u@h/db") == "postgresql"


@pytest.mark.parametrize("url", ["mysql://root:hunter2@db/leads", "not a url hunter2"])
def test_unsupported_urls_fail_clearly_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ConfigurationError, match="LEADSYNC_DATABASE_URL") as caught:
        normalize_url(url)
    assert "hunter2" not in str(caught.value)


async def test_sqlite_connection_settings(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "synchronous": 1,  # NORMAL
    }
    assert SQLITE_BUSY_TIMEOUT_MS >= 5000


async def _read_all_at_once(engine: AsyncEngine, *, readers: int) -> None:
    """``readers`` read transactions open at the same time, then all closed."""
    gate = asyncio.Event()
    reading = 0

    async def reader() -> None:
        nonlocal reading
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
            reading += 1
            await gate.wait()

    tasks = [asyncio.create_task(reader()) for _ in range(readers)]

    async def all_reading() -> bool:
        return reading == readers

    await wait_until(all_reading, within=60)
    gate.set()
    await asyncio.gather(*tasks)


async def test_a_burst_of_sqlite_readers_reuses_the_pooled_connections(sqlite_url: str) -> None:
    """As many readers at once as the pool keeps, three times over, open each connection
    once: under a burst no connection is opened and closed again per request (each one a
    thread and its PRAGMAs; SQLAlchemy's default pool of 5 did that with any 6 at once)."""
    engine = create_engine_for(sqlite_url)
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)
    try:
        for _ in range(3):
            await _read_all_at_once(engine, readers=SQLITE_POOL_SIZE)
    finally:
        await engine.dispose()
    assert opened == SQLITE_POOL_SIZE


async def test_postgres_engine_checks_connections(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    try:
        assert engine.pool._pre_ping
        async with engine.connect() as conn:
            name = await conn.scalar(text("SELECT current_setting('application_name')"))
    finally:
        await engine.dispose()
    assert name == "leadsync"


async def _new_conversation(session_factory: SessionFactory) -> Conversation:
    async with session_factory() as session:
        prop = Property(name="Oak Row")
        session.add(prop)
        await session.flush()
        conversation = Conversation(property_id=prop.id)
        session.add(conversation)
        await session.commit()
        return conversation


async def test_concurrent_read_modify_write_loses_nothing_on_sqlite(
    sqlite_sessions: SessionFactory,
) -> None:
    # Two transactions each read lead_score and write it + 10. SQLite transactions begin
    # IMMEDIATE, so the second waits for the first instead of failing with "database is
    # locked" (or losing the first write).
    session_factory = sqlite_sessions
    conversation = await _new_conversation(session_factory)
    first_has_read = asyncio.Event()
    second_has_read = asyncio.Event()

    async def bump(*, first: bool) -> None:
        async with session_factory() as session:
            score = await session.scalar(
                select(Conversation.lead_score).where(Conversation.id == conversation.id)
            )
            assert score is not None
            if first:
                first_has_read.set()
                # Under IMMEDIATE the second cannot read before we commit; give it the chance
                # it would have under DEFERRED.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(second_has_read.wait(), timeout=0.5)
            else:
                second_has_read.set()
            row = await session.get(Conversation, conversation.id)
            assert row is not None
            row.lead_score = score + 10
            await session.commit()

    async def second() -> None:
        await first_has_read.wait()
        await bump(first=False)

    await asyncio.gather(bump(first=True), second())
    async with session_factory() as session:
        final = await session.scalar(
            select(Conversation.lead_score).where(Conversation.id == conversation.id)
        )
    assert final == 20


async def test_stale_conversation_update_is_refused(session_factory: SessionFactory) -> None:
    conversation = await _new_conversation(session_factory)
    async with session_factory() as slow:
        stale = await slow.get(Conversation, conversation.id)
        assert stale is not None
        await slow.commit()  # keeps the object (expire_on_commit=False), at version 1

        async with session_factory() as fast:
            fresh = await fast.get(Conversation, conversation.id)
            assert fresh is not None
            fresh.status = "contacted"
            await fast.commit()
            assert fresh.version == 2

        stale.status = "lost"
        with pytest.raises(StaleDataError):
            await slow.commit()

    async with session_factory() as session:
        kept = await session.get(Conversation, conversation.id)
        assert kept is not None
        assert (kept.status, kept.version) == ("contacted", 2)


# --- the process's SQLite write lock (db/write_lock.py) -----------------------------------
async def test_sqlite_writers_queue_in_the_process_and_readers_pass(
    sqlite_sessions: SessionFactory,
) -> None:
    session_factory = sqlite_sessions
    engine = session_factory.kw["bind"]
    lock = write_lock_of(engine.sync_engine)
    assert lock is not None
    conversation = await _new_conversation(session_factory)
    async with session_factory() as first:
        row = await first.get(Conversation, conversation.id)  # BEGIN IMMEDIATE: holds it
        assert row is not None
        assert lock.held

        async def second_writer() -> None:
            async with session_factory() as session, session.begin():
                other = await session.get(Conversation, conversation.id)
                assert other is not None
                other.lead_score = (other.lead_score or 0) + 1

        waiting = asyncio.create_task(second_writer())

        async def queued() -> bool:
            return lock.waiting == 1

        await wait_until(queued, within=30)
        # A reader is not queued behind the writers (WAL, DEFERRED), nor is a bare one.
        async with read_session(session_factory) as reader:
            assert await reader.scalar(select(func.count()).select_from(Conversation)) == 1
        async with read_connection(engine) as conn:
            assert await conn.scalar(select(func.count()).select_from(Conversation)) == 1
        assert lock.waiting == 1
        assert not waiting.done()
        row.lead_score = 50
        await first.commit()
    await waiting
    assert not lock.held
    async with read_session(session_factory) as reader:
        score = await reader.scalar(
            select(Conversation.lead_score).where(Conversation.id == conversation.id)
        )
    assert score == 51


async def test_sqlite_write_lock_is_given_back_however_a_transaction_ends(
    sqlite_sessions: SessionFactory,
) -> None:
    session_factory = sqlite_sessions
    lock = write_lock_of(session_factory.kw["bind"].sync_engine)
    assert lock is not None

    async def fail_inside() -> None:
        async with session_factory() as session, session.begin():
            await session.execute(select(1))
            assert lock.held
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_inside()
    assert not lock.held
    async with session_factory() as session:
        await session.execute(select(1))
        assert lock.held
    assert not lock.held  # closed without commit: rolled back on return
    async with session_factory() as session:
        await session.execute(select(1))
        await session.commit()
        assert not lock.held
        await session.execute(select(1))  # the session's next transaction takes it again
        assert lock.held
    assert not lock.held


async def test_many_concurrent_sqlite_writers_all_commit(sqlite_sessions: SessionFactory) -> None:
    session_factory = sqlite_sessions

    async def write(n: int) -> None:
        async with session_factory() as session, session.begin():
            session.add(Property(name=f"Concurrent {n}"))

    await asyncio.gather(*(write(n) for n in range(40)))
    async with read_session(session_factory) as reader:
        names = await reader.scalars(
            select(Property.name).where(Property.name.like("Concurrent %"))
        )
        assert len(set(names)) == 40
