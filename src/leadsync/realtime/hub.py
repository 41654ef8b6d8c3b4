"""The per-process hub between the realtime event log and the WebSocket subscribers.

One tail loop reads ``realtime_event`` rows past the last sequence it dispatched (short,
read-only transactions: on SQLite it never holds the write lock) and hands each row, in
sequence order, to the subscribers of its property. It reads when woken and at least every
``poll_seconds``:

- in-process, a commit of a session that appended events wakes it (an ``after_commit``
  listener on the runtime's sessions, installed by :class:`EventHub`), so local changes go
  out at once;
- changes committed by another process wake it through :meth:`EventHub.wake`, which the
  PostgreSQL LISTEN/NOTIFY fan-out calls; the poll is the safety net for anything else
  (a ``leadsync worker`` process on SQLite, a lost notification).

Wake-ups count only while someone is subscribed: with nobody listening, the poll alone keeps
the hub's position current (a read after every commit cost each pushed lead two read
transactions, ~2 % of its CPU, for no one). A new subscriber therefore first brings the
position up to the log's end (:meth:`EventHub.catch_up`), so it starts from now, as before.

The hub never awaits a client: each subscription has a bounded queue, and a subscriber whose
queue is full is dropped (close 4408) while the others carry on.

Sequence gaps: on PostgreSQL, concurrent transactions take their sequence numbers in one
order and may commit in another, so the row after the last dispatched one may still be in
flight. The hub then waits up to ``gap_grace_seconds`` for it before skipping the gap (a
rolled-back transaction leaves a permanent one). Dispatching in order matters more than a
few hundred milliseconds: every event carries the lead's whole state, and an older state
arriving after a newer one would roll a client's view back. SQLite serialises writers and
reuses a rolled-back AUTOINCREMENT number, so it has no gaps.

Retention: every ``purge_interval_seconds`` the hub deletes events older than
``retention_days`` and all but the newest ``retention_max_events`` sequence numbers (always
keeping the newest event, so the log still says how far the sequence has come). A client
resuming from before the oldest retained event is told to resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Row, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction

from leadsync.config import Settings
from leadsync.db.models import RealtimeEvent
from leadsync.db.types import utcnow
from leadsync.realtime import eventlog
from leadsync.realtime.protocol import CLOSE_GOING_AWAY, CLOSE_TOO_SLOW
from leadsync.reconnect import Reconnect
from leadsync.telemetry.logging import get_logger
from leadsync.telemetry.metrics import WEBSOCKET_CLIENTS

log = get_logger(__name__)

#: (sequence, the message as sent): serialised once per event, shared by every subscriber.
Delivery = tuple[int, str]

_PENDING_FLAG: Final = "leadsync.realtime.pending"


@dataclass
class HubConfig:
    poll_seconds: float = 0.25
    gap_grace_seconds: float = 1.0
    batch_size: int = 500
    #: Events a subscriber may have waiting to be written before it is dropped (4408).
    client_buffer: int = 1_000
    #: A heartbeat goes out after this long without any other message.
    heartbeat_seconds: float = 15.0
    #: How long a close may wait on a socket whose peer stopped reading.
    close_timeout_seconds: float = 10.0
    #: How long a connection without ?property_id= may take to send its subscribe message.
    subscribe_timeout_seconds: float = 10.0
    retention_days: float = 7.0
    retention_max_events: int = 100_000
    purge_interval_seconds: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HubConfig:
        return cls(
            poll_seconds=settings.realtime_poll_seconds,
            heartbeat_seconds=settings.realtime_heartbeat_seconds,
            client_buffer=settings.realtime_client_buffer,
            retention_days=settings.realtime_retention_days,
        )


class Subscription:
    """One subscriber's view of the hub: a bounded queue of deliveries, and how it ended."""

    def __init__(self, property_id: uuid.UUID, *, buffer: int, start_after: int) -> None:
        self.property_id = property_id
        #: The hub had dispatched up to here when this subscription began: everything later
        #: arrives through the queue, everything up to here is in the log (replay).
        self.start_after = start_after
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=buffer)
        self.ended = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""

    def offer(self, delivery: Delivery) -> bool:
        """Queue without waiting; a full queue ends the subscription (too slow)."""
        if self.ended.is_set():
            return False
        try:
            self.queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.end(CLOSE_TOO_SLOW, "too slow: the event buffer overflowed")
            return False
        return True

    def end(self, code: int, reason: str) -> None:
        if not self.ended.is_set():
            self.close_code, self.close_reason = code, reason
            self.ended.set()


class EventHub:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        config: HubConfig | None = None,
        watch_commits: bool = True,
    ) -> None:
        self.config = config or HubConfig()
        self._sessionmaker = sessionmaker
        self._subscriptions: dict[uuid.UUID, set[Subscription]] = {}
        self._last = 0
        self._primed = False
        self._gap_since: float | None = None
        self._woken = asyncio.Event()
        #: One read of the log at a time: the tail's and a new subscriber's catch-up.
        self._reading = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Subscribers dropped for reading too slowly, and gaps skipped (for metrics).
        self.overflows = 0
        self.skipped_gaps = 0
        if watch_commits:
            self._watch_commits()

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def last_sequence(self) -> int:
        """The last sequence dispatched to subscribers."""
        return self._last

    def wake(self, _hint: str | None = None) -> None:
        """Read the log now (new events committed), if anyone is subscribed; otherwise the
        next poll will (see the module doc). Takes and ignores the fan-out's payload; call it
        on the event loop's thread."""
        if self._subscriptions:
            self._woken.set()

    async def prime(self) -> None:
        """Start after the newest logged event: subscribers get what happens from now on,
        and older events only by replay."""
        if self._primed:
            return
        _, newest = await self.log_bounds()
        # An empty log starts at 0: if its first event is not 1 (purged or cascaded away
        # history), that costs one grace period, and an early out-of-order commit is safe.
        self._last = newest or 0
        self._primed = True

    async def start(self) -> None:
        if self._tasks:
            return
        await self.prime()
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._tail(), name="realtime-tail"),
            asyncio.create_task(self._purge_loop(), name="realtime-purge"),
        ]

    async def stop(
        self, *, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down"
    ) -> None:
        """Stop reading and end every subscription with ``code`` (their sockets close)."""
        # Asked to stop rather than cancelled: a cancel inside a database call can leave
        # the aiosqlite connection hanging.
        tasks, self._tasks = self._tasks, []
        self._stopping.set()
        self._woken.set()
        await asyncio.gather(*tasks)
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.end(code, reason)
        WEBSOCKET_CLIENTS.dec(self.subscriber_count())
        self._subscriptions.clear()

    # --- subscribers -------------------------------------------------------------------
    async def catch_up(self) -> None:
        """Read the log up to its end now if nobody is subscribed (and so the position may be
        up to a poll behind): call it before :meth:`subscribe`, or what the hub had not read
        yet would reach the new subscriber through its queue, as if it had happened after."""
        if not self._subscriptions and not self._stopping.is_set():
            await self.poll()

    def subscribe(self, property_id: uuid.UUID, *, buffer: int | None = None) -> Subscription:
        subscription = Subscription(
            property_id, buffer=buffer or self.config.client_buffer, start_after=self._last
        )
        if self._stopping.is_set():  # shutting down: the client should go elsewhere
            subscription.end(CLOSE_GOING_AWAY, "server shutting down")
        else:
            self._subscriptions.setdefault(property_id, set()).add(subscription)
            WEBSOCKET_CLIENTS.inc()
            # Commits between the catch-up and now woke no one: read them at once.
            self._woken.set()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.property_id)
        if subscriptions is not None and subscription in subscriptions:
            subscriptions.discard(subscription)
            WEBSOCKET_CLIENTS.dec()
            if not subscriptions:
                del self._subscriptions[subscription.property_id]

    def subscriber_count(self, property_id: uuid.UUID | None = None) -> int:
        if property_id is not None:
            return len(self._subscriptions.get(property_id, ()))
        return sum(len(s) for s in self._subscriptions.values())

    # --- tailing the log ---------------------------------------------------------------
    async def poll(self) -> float:
        """Dispatch every event committed past the last one; returns the seconds until the
        next read is due (sooner while a gap is pending)."""
        await self.prime()
        async with self._reading:
            return await self._read()

    async def _read(self) -> float:
        while True:
            rows = await eventlog.read_after(
                self._sessionmaker, after=self._last, limit=self.config.batch_size
            )
            if not rows:
                return self.config.poll_seconds
            taken = self._dispatch(rows)
            if taken < len(rows):
                assert self._gap_since is not None
                waited = time.monotonic() - self._gap_since
                return max(
                    0.01, min(self.config.poll_seconds, self.config.gap_grace_seconds - waited)
                )
            if len(rows) < self.config.batch_size:
                return self.config.poll_seconds

    def _dispatch(self, rows: Sequence[Row[Any]]) -> int:
        """Hand rows to subscribers in order; stops at a gap still within its grace period
        and returns how many rows were taken. No await inside: a subscription made between
        two polls sees either all of a row's effects or none."""
        now = time.monotonic()
        for taken, row in enumerate(rows):
            if row.sequence != self._last + 1:
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since < self.config.gap_grace_seconds:
                    return taken
                self.skipped_gaps += 1
                log.info("realtime sequence gap skipped", after=self._last, next=row.sequence)
            self._gap_since = None
            self._last = row.sequence
            subscribers = self._subscriptions.get(row.property_id)
            if not subscribers:
                continue
            delivery = (row.sequence, eventlog.message_text(row))
            for subscription in tuple(subscribers):
                if not subscription.offer(delivery):
                    self.overflows += 1
                    self.unsubscribe(subscription)
                    log.warning("realtime subscriber too slow, dropped", sequence=row.sequence)
        return len(rows)

    async def _tail(self) -> None:
        backoff = Reconnect(base=self.config.poll_seconds, cap=5.0)
        while not self._stopping.is_set():
            self._woken.clear()  # before reading: a wake during the read re-reads at once
            try:
                delay = await self.poll()
                backoff.succeeded()
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("realtime log read failed", error=type(exc).__name__)
                delay = backoff.next_delay()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=delay)

    # --- the log -----------------------------------------------------------------------
    async def log_bounds(self) -> tuple[int | None, int | None]:
        """The oldest and newest sequence in the log (None, None when it is empty)."""
        return await eventlog.bounds(self._sessionmaker)

    async def replay(
        self, property_id: uuid.UUID, *, after: int, upto: int
    ) -> AsyncIterator[list[Delivery]]:
        """The property's logged events with ``after`` < sequence <= ``upto``, in batches."""
        while after < upto:
            rows = await eventlog.read_property(
                self._sessionmaker,
                property_id,
                after=after,
                upto=upto,
                limit=self.config.batch_size,
            )
            if not rows:
                return
            yield [(row.sequence, eventlog.message_text(row)) for row in rows]
            after = rows[-1].sequence

    async def purge(self, *, now: datetime | None = None) -> int:
        """Apply the retention rules; returns how many events were deleted."""
        deleted = await eventlog.purge(
            self._sessionmaker,
            older_than=(now or utcnow()) - timedelta(days=self.config.retention_days),
            keep_last=self.config.retention_max_events,
        )
        if deleted:
            log.info("realtime log purged", deleted=deleted)
        return deleted

    async def _purge_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                interval = self.config.purge_interval_seconds
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
                return
            try:
                await self.purge()
            except Exception as exc:  # retried at the next interval
                log.warning("realtime log purge failed", error=type(exc).__name__)

    # --- in-process wake-up --------------------------------------------------------------
    def _watch_commits(self) -> None:
        """Wake after every commit of one of our sessions that appended events.

        The listener goes on a Session subclass of this sessionmaker only (not on Session
        itself), so several runtimes in one process (tests, ``leadsync up``) do not wake
        each other's hubs.
        """
        base = self._sessionmaker.kw.get("sync_session_class", Session)
        watched = type("RealtimeWatchedSession", (base,), {})
        self._sessionmaker.configure(sync_session_class=watched)

        def after_flush(session: Session, _context: UOWTransaction) -> None:
            if any(isinstance(obj, RealtimeEvent) for obj in session.new):
                session.info[_PENDING_FLAG] = True

        def after_commit(session: Session) -> None:
            if session.info.pop(_PENDING_FLAG, False):
                self.wake()

        def after_rollback(session: Session) -> None:
            session.info.pop(_PENDING_FLAG, None)

        event.listen(watched, "after_flush", after_flush)
        event.listen(watched, "after_commit", after_commit)
        event.listen(watched, "after_rollback", after_rollback)
