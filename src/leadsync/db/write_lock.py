"""One SQLite writer at a time inside the process, queued on an asyncio lock.

SQLite has a single write lock. Left to itself, every connection that wants it retries
inside its busy handler, sleeping 1, 2, 5 … 100 ms between tries in its own aiosqlite
thread: under load writers poll, the lock goes to whoever happens to wake first, and the
tail latency grows to seconds. Here a write transaction (our ``BEGIN IMMEDIATE``) first
takes a FIFO asyncio lock, so writers of this process queue without polling and the lock is
handed over as soon as the previous transaction ends. Read transactions (``DEFERRED``) never
take it: WAL lets them run beside the writer. Other processes on the same file still meet
SQLite's own lock and busy timeout.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Final

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.util import await_only

#: Connection.info key: this pooled connection holds the process's write lock.
_HOLDS: Final = "leadsync_write_lock"


class WriteLock:
    """The process's SQLite write lock for one engine (a new asyncio lock per event loop)."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Transactions of this process queued for the lock right now.
        self.waiting = 0

    @property
    def held(self) -> bool:
        return self._lock is not None and self._lock.locked()

    def _current(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    def acquire(self, info: dict[Any, Any]) -> None:
        """Take the lock for the connection owning ``info`` (called inside SQLAlchemy's
        greenlet bridge, so it may await). A connection that holds it keeps it."""
        if info.get(_HOLDS):
            return
        lock = self._current()
        # Bounded like SQLite's own busy timeout: a writer that waits this long is a bug
        # (a transaction left open), and fails instead of hanging the process.
        self.waiting += 1
        try:
            await_only(asyncio.wait_for(lock.acquire(), timeout=self.timeout))
        finally:
            self.waiting -= 1
        info[_HOLDS] = lock

    @staticmethod
    def release(info: dict[Any, Any]) -> None:
        lock = info.pop(_HOLDS, None)
        if lock is not None and lock.locked():
            lock.release()


_LOCKS: weakref.WeakKeyDictionary[Engine, WriteLock] = weakref.WeakKeyDictionary()


def install_write_lock(engine: Engine, *, timeout: float) -> WriteLock:
    """Serialise ``engine``'s write transactions (see the module docstring). The SQLite
    ``begin`` hook calls `WriteLock.acquire` before ``BEGIN IMMEDIATE``; every way a
    transaction or connection can end gives the lock back."""
    lock = WriteLock(timeout=timeout)

    def on_end(conn: Connection) -> None:
        WriteLock.release(conn.info)

    def on_returned(_dbapi: Any, record: Any, _reset_state: Any) -> None:
        WriteLock.release(record.info)

    def on_invalidated(_dbapi: Any, record: Any, _exception: Any) -> None:
        WriteLock.release(record.info)

    def on_closed(_dbapi: Any, record: Any) -> None:
        WriteLock.release(record.info)

    # commit/rollback fire just before the driver's COMMIT/ROLLBACK: the next writer may
    # reach BEGIN while it finishes, which SQLite's busy handler bridges in a millisecond.
    event.listen(engine, "commit", on_end)
    event.listen(engine, "rollback", on_end)
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
