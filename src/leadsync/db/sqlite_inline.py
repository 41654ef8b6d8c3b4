"""SQLite statements run on the event loop's own thread, not on aiosqlite's.

aiosqlite gives every connection a thread and hands it each call through a queue; the
answer comes back with ``call_soon_threadsafe``. SQLAlchemy's adapter makes four such calls
per statement (cursor, execute, fetch, close), and each waits its turn in the event loop's
ready queue behind every other task. Under load a write transaction of a dozen statements
then held the process's write lock for ~15 ms of hops around ~1 ms of SQLite work, so the
lock, not the CPU, capped the process (issue 10: with the event loop ~30 % busy, 25 leads/s
queued for seconds; the lock was held 60 % of the time, median 14-19 ms per transaction).

SQLite itself answers in microseconds when it does not have to wait for a lock, and in WAL
mode only one statement of ours can wait: the ``BEGIN IMMEDIATE`` that takes the database's
write lock, which another *process* (a CLI command, a second `serve`) may hold. Writers of
this process already queue on `leadsync.db.write_lock` before that BEGIN. So the BEGIN (and
connecting and closing) still runs on the connection's thread, where waiting in SQLite's
busy handler stalls nobody, and every other call runs inline: no hop, no ready-queue wait.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run inline; inside `may_wait`, a call that finds
    the database locked by another process is made again on the connection's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._thread.daemon = True  # as SQLAlchemy's own connect() does
        self._may_wait = False
        #: The connection's busy timeout (set once when it connects), read on first need.
        self._busy_ms: int | None = None

    @contextmanager
    def may_wait(self) -> Iterator[None]:
        """Mark the calls made inside as ones that may wait for another process's lock."""
        self._may_wait = True
        try:
            yield
        finally:
            self._may_wait = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")  # what aiosqlite (and SQLAlchemy) expect
        if not self._may_wait:
            return fn(*args, **kwargs)
        # Try without waiting first: the lock is nearly always free (this process's own
        # writers queue before the BEGIN), and a thread hop costs a trip through the loop.
        if self._busy_ms is None:
            self._busy_ms = _busy_timeout(self._connection)
        if (busy_ms := self._busy_ms) == 0:
            return fn(*args, **kwargs)
        _set_busy_timeout(self._connection, 0)
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
        finally:
            _set_busy_timeout(self._connection, busy_ms)
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]


def _busy_timeout(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA busy_timeout").fetchone()
    return int(row[0])


def _set_busy_timeout(connection: sqlite3.Connection, ms: int) -> None:
    connection.execute(f"PRAGMA busy_timeout={int(ms)}")


def inline_connector(url: str) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for `create_async_engine`: the arguments SQLAlchemy's aiosqlite
    dialect would pass for ``url``, on an `InlineConnection`."""
    cargs, cparams = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    # The connection is opened on its thread and used on the event loop's.
    cparams["check_same_thread"] = False
    connector = partial(sqlite3.connect, *cargs, **cparams)

    async def connect() -> InlineConnection:
        connection = InlineConnection(connector)
        await connection  # opens the database on the connection's thread
        return connection

    return connect


def may_wait(driver_connection: Any) -> AbstractContextManager[None]:
    """`InlineConnection.may_wait` for ``driver_connection``, or a no-op context for any
    other driver."""
    if isinstance(driver_connection, InlineConnection):
        return driver_connection.may_wait()
    return nullcontext()
