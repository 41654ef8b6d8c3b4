"""One SQLite writer at a time inside the process, queued on an asyncio lock.

SQLite has a single write lock. Left to itself, every connection that wants it retries
inside its busy handler, sleeping 1, 2, 5 … 100 ms between tries in its own aiosqlite
thread: under load writers poll, the lock goes to whoever happens to wake first, and the
tail latency grows to seconds. Here a write transaction (our ``BEGIN IMMEDIATE``) first
takes a FIFO asyncio lock, so writers of this process queue without polling, and the lock is
handed to the next one as soon as the driver's COMMIT or ROLLBACK has returned (handing it
over any earlier would send the next BEGIN into the busy handler's sleeps). Read
transactions (``DEFERRED``) never take it: WAL lets them run beside the writer. Other
processes on the same file still meet SQLite's own lock and busy timeout.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.util import await_only


def _raw(connection: Any) -> Any:
    """The driver connection behind a pool proxy (the dialect is handed either)."""
    return getattr(connection, "dbapi_connection", connection)


class WriteLock:
    """The process's SQLite write lock for one engine (a new asyncio lock per event loop)."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The driver connection whose transaction holds the lock.
        self._holder: Any = None
        #: Transactions of this process queued for the lock right now.
        self.waiting = 0

    @property
    def held(self) -> bool:
        return self._holder is not None

    def _current(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop, self._holder = asyncio.Lock(), loop, None
        return self._lock

    def acquire(self, connection: Any) -> None:
        """Take the lock for ``connection``'s transaction (called inside SQLAlchemy's
        greenlet bridge, so it may await). A connection that holds it keeps it."""
        raw = _raw(connection)
        if raw is not None and self._holder is raw:
            return
        lock = self._current()
        if lock.locked():
            self.waiting += 1
            try:
                # Bounded like SQLite's own busy timeout: a writer that waits this long is a
                # bug (a transaction left open), and fails instead of hanging the process.
                await_only(asyncio.wait_for(lock.acquire(), timeout=self.timeout))
            finally:
                self.waiting -= 1
        else:
            # A free lock is taken without suspending (wait_for would cost a trip through
            # the event loop's ready queue, with the transaction about to hold the lock).
            await_only(lock.acquire())
        self._holder = raw

    def release(self, connection: Any) -> None:
        """Give the lock back if ``connection`` holds it (idempotent)."""
        if self._holder is None or self._holder is not _raw(connection):
            return
        self._holder = None
        if self._lock is not None and self._lock.locked():
            self._lock.release()


_LOCKS: weakref.WeakKeyDictionary[Engine, WriteLock] = weakref.WeakKeyDictionary()


def install_write_lock(engine: Engine, *, timeout: float) -> WriteLock:
    """Serialise ``engine``'s write transactions (see the module docstring). The SQLite
    ``begin`` hook calls `WriteLock.acquire` before ``BEGIN IMMEDIATE``; every way a
    transaction or connection can end gives the lock back."""
    lock = WriteLock(timeout=timeout)
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    # SQLAlchemy has no event after the driver's COMMIT/ROLLBACK (ConnectionEvents fire
    # before it), so this engine's dialect gets thin wrappers that release once it returned.
    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            lock.release(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            lock.release(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    def on_returned(dbapi_connection: Any, _record: Any, _reset_state: Any) -> None:
        lock.release(dbapi_connection)

    def on_invalidated(dbapi_connection: Any, _record: Any, _exception: Any) -> None:
        lock.release(dbapi_connection)

    def on_closed(dbapi_connection: Any, _record: Any) -> None:
        lock.release(dbapi_connection)

    # A connection returned, invalidated or closed mid-transaction must not keep the lock.
    event.listen(engine.pool, "reset", on_returned)
    event.listen(engine.pool, "invalidate", on_invalidated)
    event.listen(engine.pool, "soft_invalidate", on_invalidated)
    event.listen(engine.pool, "close", on_closed)
    event.listen(engine.pool, "detach", on_closed)
    _LOCKS[engine] = lock
    return lock


def write_lock_of(engine: Engine) -> WriteLock | None:
    """The write lock installed on ``engine`` (SQLite async engines), if any."""
    return _LOCKS.get(engine)
