"""PostgreSQL LISTEN/NOTIFY: wake other processes the moment a transaction commits.

A transaction that appends to the ``realtime_event`` log NOTIFYs the events channel
(:func:`leadsync.events.notify`); one that enqueues a sync job NOTIFYs the jobs channel
(``sync/queue/repository.py``). PostgreSQL delivers a notification only when its transaction
commits and drops it on rollback, so a listener is never told about a row that does not
exist. Each process holds one dedicated connection per channel (:class:`EventListener`) and
wakes what reads the table — the table stays the single source of truth, a notification
only says "look now" (its payload stays well under NOTIFY's 8000-byte limit).

A listener whose connection dropped may have missed notifications, so after every
(re)connect it calls ``on_notify`` once with :data:`RESYNC` and the reader looks again.

On SQLite there is one process and nothing to listen to: in-process wakes cover it and
:class:`EventListener` does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Final

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from leadsync.db.engine import backend_name
from leadsync.reconnect import Reconnect
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

#: The payload ``on_notify`` gets after a (re)connect: "anything may have changed".
RESYNC: Final = ""
#: Silence longer than this makes the listener check its connection: a peer that vanished
#: without closing TCP (a dead NAT entry, a failover) would otherwise stay quiet forever.
HEALTH_CHECK_SECONDS: Final = 30.0
RECONNECT_BASE_SECONDS: Final = 0.2
RECONNECT_CAP_SECONDS: Final = 10.0
CONNECT_TIMEOUT_SECONDS: Final = 10


def _libpq_url(url: str) -> str:
    # psycopg takes a libpq URI; SQLAlchemy's driver suffix ("+psycopg") is not part of it.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class EventListener:
    """LISTENs on ``channel`` over a connection of its own and calls ``on_notify(payload)``
    for every notification, reconnecting with backoff whenever the connection is lost.

    ``on_notify`` runs on the event loop and must not block; an exception it raises is
    logged and the listener carries on.
    """

    def __init__(
        self,
        *,
        url: str,
        on_notify: Callable[[str], None],
        channel: str,
        health_check_seconds: float = HEALTH_CHECK_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self.channel = channel
        self.enabled = backend_name(url) == "postgresql"
        self._conninfo = _libpq_url(url) if self.enabled else ""
        self._on_notify = on_notify
        self._health_check = health_check_seconds
        self._rng = rng or random.Random()  # jitter only
        self._task: asyncio.Task[None] | None = None
        #: Set while LISTEN is in effect; cleared when the connection is lost.
        self.listening = asyncio.Event()
        #: Successful LISTENs so far (more than one means it reconnected).
        self.connects = 0

    def start(self) -> None:
        """Begin listening in a background task (no-op on SQLite or when started)."""
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"listen:{self.channel}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.listening.clear()

    async def _run(self) -> None:
        backoff = Reconnect(base=RECONNECT_BASE_SECONDS, cap=RECONNECT_CAP_SECONDS, rng=self._rng)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    application_name="leadsync-listen",
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    backoff.succeeded()
                    self.connects += 1
                    self.listening.set()
                    log.info("listening for events", channel=self.channel, connects=self.connects)
                    self._deliver(RESYNC)
                    await self._pump(conn)
            except (psycopg.Error, OSError) as exc:
                # The type only: libpq's messages can name the host and user.
                log.warning(
                    "event listener connection lost",
                    channel=self.channel,
                    error=type(exc).__name__,
                    failures=backoff.failures + 1,
                )
            finally:
                self.listening.clear()
            await backoff.sleep()

    async def _pump(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        while True:
            async for note in conn.notifies(timeout=self._health_check):
                self._deliver(note.payload)
            # Notifications arriving during this query are kept by psycopg for the next
            # notifies() round; a dead connection raises here and we reconnect.
            await conn.execute("SELECT 1")

    def _deliver(self, payload: str) -> None:
        try:
            self._on_notify(payload)
        except Exception:
            log.exception("event listener callback failed", channel=self.channel)
