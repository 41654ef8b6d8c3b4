"""Engines and sessions for the two supported databases.

SQLite (embedded default, `sqlite+aiosqlite`) and PostgreSQL (production, `postgresql+psycopg`).
Users may write plain URLs (`sqlite:///x.db`, `postgresql://...`, `postgres://...`); they are
normalised to those async drivers. Alembic runs synchronously on the matching sync URL.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from leadsync.db.sqlite_inline import inline_connector, may_wait
from leadsync.db.write_lock import WriteLock, install_write_lock
from leadsync.errors import ConfigurationError

#: Milliseconds a SQLite connection waits for the write lock before failing "database is locked".
SQLITE_BUSY_TIMEOUT_MS: Final = 15_000
#: Connections a SQLite engine keeps open (see `create_engine_for`); as many again may open
#: under a burst and are closed when given back.
SQLITE_POOL_SIZE: Final = 32
#: Execution option naming how a SQLite transaction begins (see `_sqlite_begin`).
SQLITE_BEGIN: Final = "sqlite_begin"

# One INSERT per row instead of multi-row VALUES: SQLite evaluates lead_sync_queue.seq's
# `max(seq) + 1` once per statement, so a multi-row INSERT would give every row the same
# number. Without a network round trip per statement, batching gains SQLite little.
_SQLITE_ENGINE_OPTIONS: Final[dict[str, Any]] = {"use_insertmanyvalues": False}
_ASYNC_DRIVERS: Final = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS: Final = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The text may hold a password: say what is wrong, not what was given.
        raise ConfigurationError("LEADSYNC_DATABASE_URL is not a valid database URL") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":  # Heroku-style alias
        backend = "postgresql"
    if backend not in _ASYNC_DRIVERS:
        raise ConfigurationError(
            f"unsupported database {backend!r}: LEADSYNC_DATABASE_URL must be sqlite or postgresql"
        )
    return parsed.set(drivername=backend)


def backend_name(url: str) -> Literal["sqlite", "postgresql"]:
    """Which of the two supported databases `url` points at."""
    return "sqlite" if _parse(url).drivername == "sqlite" else "postgresql"


def normalize_url(url: str) -> str:
    """`url` with the async driver leadsync uses (`sqlite+aiosqlite`, `postgresql+psycopg`)."""
    parsed = _parse(url)
    return parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername]).render_as_string(
        hide_password=False
    )


def sync_url(url: str) -> str:
    """The synchronous twin of `url`, for Alembic (`sqlite+pysqlite`, `postgresql+psycopg`)."""
    parsed = _parse(url)
    return parsed.set(drivername=_SYNC_DRIVERS[parsed.drivername]).render_as_string(
        hide_password=False
    )


def _ensure_sqlite_folder(url: str) -> None:
    # The embedded default lives in data_dir, which may not exist yet on a first run. Owner-only:
    # the file holds leads' personal data.
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The file itself is created owner-only before SQLite opens it (SQLite would apply
        # the umask, typically 0644); its -wal and -shm files copy these permissions.
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
        with contextlib.suppress(PermissionError):  # someone else's file: theirs to keep
            os.chmod(database, 0o600)


def _sqlite_on_connect(dbapi_connection: Any, *, foreign_keys: bool) -> None:
    # Take BEGIN away from the sqlite3 driver, whose legacy mode does not begin before SELECTs
    # (breaking read-then-write transactions) or SAVEPOINTs; `_sqlite_begin` emits it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: readers never block the writer. NORMAL is durable across process crashes in WAL
        # mode (only an OS crash can lose the last commits) and much faster than FULL.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection, *, write_lock: WriteLock | None = None) -> None:
    # IMMEDIATE by default: the transaction takes the write lock up front, waiting up to the
    # busy timeout. A DEFERRED transaction that read first and writes later fails at once
    # with "database is locked" when another writer committed meanwhile, and busy_timeout
    # cannot help it. Read-only work may pass execution_options(sqlite_begin="DEFERRED").
    mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    if mode not in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE"):
        raise ValueError(f"{SQLITE_BEGIN} must be IMMEDIATE, DEFERRED or EXCLUSIVE")
    if write_lock is None or mode == "DEFERRED":
        conn.exec_driver_sql(f"BEGIN {mode}")
        return
    write_lock.acquire(conn.connection)  # queue behind the process's other writers
    try:
        # Another process may hold SQLite's lock: then wait for it off the event loop.
        with may_wait(conn.connection.driver_connection):
            conn.exec_driver_sql(f"BEGIN {mode}")
    except BaseException:
        write_lock.release(conn.connection)
        raise


def install_sqlite_hooks(
    engine: Engine, *, foreign_keys: bool = True, write_lock: bool = False
) -> None:
    """Apply leadsync's SQLite connection settings and transaction control to `engine`.

    `foreign_keys=False` is for migrations only: SQLite's ALTER is "copy the table, drop the
    old one", and with enforcement on, that DROP would cascade into child tables.
    `write_lock` (async engines only) queues the process's writers on an asyncio lock.
    """

    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        _sqlite_on_connect(dbapi_connection, foreign_keys=foreign_keys)

    lock = install_write_lock(engine, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000) if write_lock else None

    def on_begin(conn: Connection) -> None:
        _sqlite_begin(conn, write_lock=lock)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)


def create_engine_for(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, echo: bool = False
) -> AsyncEngine:
    """An async engine for `url` (plain URLs are normalised to the async drivers).

    `pool_size` / `max_overflow` apply to PostgreSQL. SQLite gets a pool of its own size:
    its connections are cheap to keep but dear to open (a thread each, and the PRAGMAs), and
    under load every request holds one, mostly to read (WAL readers run side by side) or to
    queue for the write lock. SQLAlchemy's default of 5 (+10 overflow, closed again when
    given back) opened and closed connections all the time at 32 concurrent webhooks.
    """
    normalized = normalize_url(url)
    if backend_name(normalized) == "sqlite":
        _ensure_sqlite_folder(normalized)
        engine = create_async_engine(
            normalized,
            echo=echo,
            async_creator=inline_connector(normalized),
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE,
            **_SQLITE_ENGINE_OPTIONS,
        )
        install_sqlite_hooks(engine.sync_engine, write_lock=True)
        return engine
    return create_async_engine(
        normalized,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # A connection the server or a proxy dropped is replaced before use, not failed on.
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"application_name": "leadsync"},
    )


def create_sync_engine_for(url: str, *, sqlite_foreign_keys: bool = True) -> Engine:
    """A synchronous engine (Alembic, CLI one-offs) with the same SQLite settings."""
    target = sync_url(url)
    if backend_name(target) != "sqlite":
        return create_engine(target)
    _ensure_sqlite_folder(target)
    engine = create_engine(target, **_SQLITE_ENGINE_OPTIONS)
    install_sqlite_hooks(engine, foreign_keys=sqlite_foreign_keys)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for one request or job. expire_on_commit=False: objects stay readable after
    the boundary commits (an async session cannot lazy-load them again)."""
    return async_sessionmaker(engine, expire_on_commit=False)
