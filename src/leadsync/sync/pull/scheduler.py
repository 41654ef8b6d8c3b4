"""The pull scheduler: poll every integration that reads from ResMan, one poller each.

Every ``interval`` seconds (± ``jitter``, so instances started together drift apart instead of
hammering ResMan in step) each enabled integration whose direction is not ``to_resman`` and
whose circuit is closed is pulled. A pull holds the integration's lock for its duration:

- PostgreSQL: a transaction-level advisory lock (``pg_try_advisory_xact_lock``) on a
  connection of its own. Any number of instances share the work; an integration another
  instance is polling is skipped this round. The lock ends with that transaction, whatever
  happens to the task or the process — it can never leak into the connection pool.
- SQLite: an in-process ``asyncio.Lock`` (one process serves a SQLite file; its single write
  lock serialises everything else).

On-demand pulls (API, CLI) take the same lock, waiting for a running poll to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from leadsync.config import Settings
from leadsync.db.models import ResmanIntegration
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.errors import LeadsyncError
from leadsync.sync.pull.plan import DEFAULT_INITIAL_LOOKBACK, PullSummary
from leadsync.sync.pull.run import (
    DEFAULT_BATCH_SIZE,
    POLL_BATCH_SIZE,
    POLL_REST,
    ProgressCallback,
    PullError,
    pull_integration,
)
from leadsync.sync.queue.targets import TargetCache
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

DEFAULT_INTERVAL_SECONDS = 10.0
DEFAULT_JITTER = 0.2
#: Scheduled polls re-read this much before the cursor instead of the integration's whole
#: overlap (5 minutes by default), and the whole overlap once per FULL_REREAD_SECONDS. At
#: 25 leads/s every 10 s poll re-read ~7,500 prospects (both sides parse every one); late
#: commits are still caught by the full re-read, and office changes reach us by webhook
#: or feed in the meantime.
QUICK_OVERLAP_SECONDS = 15
FULL_REREAD_SECONDS = 60.0
#: Integrations polled at once; the rest wait for a free slot within the same round.
DEFAULT_CONCURRENCY = 8
#: How often a waiting on-demand pull retries a lock another instance holds.
LOCK_RETRY_SECONDS = 0.2
#: Namespace mixed into the lock key so our keys cannot meet another application's.
_LOCK_NAMESPACE = b"leadsync:pull:"


class PullBusyError(LeadsyncError):
    """Another pull of the integration is running and did not finish within the wait."""

    def __init__(self, integration_id: uuid.UUID) -> None:
        super().__init__(f"a pull of integration {integration_id} is already running")
        self.integration_id = integration_id


def advisory_key(integration_id: uuid.UUID) -> int:
    """A stable signed 64-bit PostgreSQL advisory-lock key for the integration."""
    digest = hashlib.blake2b(_LOCK_NAMESPACE + integration_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def next_delay(*, interval: float, jitter: float, rng: random.Random) -> float:
    """``interval`` scaled by a uniform factor in [1 - jitter, 1 + jitter]."""
    return max(0.0, interval * (1 + rng.uniform(-jitter, jitter)))


class PullLocks:
    """One holder per integration at a time, across instances on PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._local: dict[uuid.UUID, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, integration_id: uuid.UUID, *, wait: float = 0.0) -> AsyncIterator[bool]:
        """Yields True while holding the integration's lock, False when it stayed taken for
        ``wait`` seconds (then the body must not pull)."""
        if self._postgres:
            async with self._pg_hold(integration_id, wait=wait) as held:
                yield held
            return
        lock = self._local.setdefault(integration_id, asyncio.Lock())
        if wait > 0:
            try:
                await asyncio.wait_for(lock.acquire(), timeout=wait)
            except TimeoutError:
                yield False
                return
        elif lock.locked():
            yield False
            return
        else:
            await lock.acquire()
        try:
            yield True
        finally:
            lock.release()

    @contextlib.asynccontextmanager
    async def _pg_hold(self, integration_id: uuid.UUID, *, wait: float) -> AsyncIterator[bool]:
        key = advisory_key(integration_id)
        deadline = time.monotonic() + wait
        conn = await self._engine.connect()
        try:
            await conn.begin()
            while not await _try_xact_lock(conn, key):
                if time.monotonic() >= deadline:
                    yield False
                    return
                # Polling, not pg_advisory_xact_lock: a blocked server call cannot be
                # cancelled cleanly from asyncio, and the waits here are short and rare.
                await asyncio.sleep(LOCK_RETRY_SECONDS)
            yield True
        finally:
            # The rollback, not an unlock call, releases the lock. A connection that died
            # meanwhile took the lock with it, so its errors change nothing.
            with contextlib.suppress(SQLAlchemyError):
                await conn.rollback()
            with contextlib.suppress(SQLAlchemyError):
                await conn.close()


async def _try_xact_lock(conn: AsyncConnection, key: int) -> bool:
    return bool(await conn.scalar(select(func.pg_try_advisory_xact_lock(key))))


@dataclass(frozen=True, slots=True)
class PollResult:
    integration_id: uuid.UUID
    #: pulled | busy | failed
    outcome: str
    summary: PullSummary | None = None


class PullScheduler:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        targets: TargetCache,
        locks: PullLocks | None = None,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        jitter: float = DEFAULT_JITTER,
        concurrency: int = DEFAULT_CONCURRENCY,
        initial_lookback: timedelta = DEFAULT_INITIAL_LOOKBACK,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or not 0 <= jitter < 1 or concurrency < 1:
            raise ValueError("interval > 0, 0 <= jitter < 1 and concurrency >= 1 are required")
        self.sessionmaker = sessionmaker
        self.targets = targets
        if locks is None:
            bind = sessionmaker.kw.get("bind")
            if not isinstance(bind, AsyncEngine):
                raise ValueError("pass locks= when the sessionmaker is not bound to an engine")
            locks = PullLocks(bind)
        self.locks = locks
        self.interval = interval
        self.jitter = jitter
        self.concurrency = concurrency
        self.initial_lookback = initial_lookback
        self._rng = rng or random.Random()  # jitter only
        self._clock = clock
        #: When each integration's last scheduled poll with its whole overlap succeeded.
        self._full_reread_at: dict[uuid.UUID, float] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        targets: TargetCache,
    ) -> PullScheduler:
        return cls(
            sessionmaker=sessionmaker,
            targets=targets,
            locks=PullLocks(engine),
            interval=settings.pull_interval_seconds,
            jitter=settings.pull_jitter,
            initial_lookback=timedelta(days=settings.pull_initial_lookback_days),
        )

    async def due_integrations(self, *, now: datetime | None = None) -> list[uuid.UUID]:
        """Enabled integrations that read from ResMan and whose circuit is closed."""
        now = now or utcnow()
        async with read_session(self.sessionmaker) as session:
            rows = await session.scalars(
                select(ResmanIntegration.id)
                .where(
                    ResmanIntegration.sync_enabled.is_(True),
                    ResmanIntegration.sync_direction != "to_resman",
                    or_(
                        ResmanIntegration.circuit_open_until.is_(None),
                        ResmanIntegration.circuit_open_until <= now,
                    ),
                )
                .order_by(ResmanIntegration.id)
            )
            return list(rows)

    async def pull_now(
        self,
        *,
        integration_id: uuid.UUID,
        since: datetime | None = None,
        until: datetime | None = None,
        trigger: str = "api",
        wait: float = 30.0,
        on_progress: ProgressCallback | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        rest: float = 0.0,
        overlap_seconds: int | None = None,
    ) -> PullSummary:
        """One pull under the integration's lock, waiting up to ``wait`` seconds for a
        running one; raises :class:`PullBusyError` when it is still running then."""
        async with self.locks.hold(integration_id, wait=wait) as held:
            if not held:
                raise PullBusyError(integration_id)
            return await pull_integration(
                sessionmaker=self.sessionmaker,
                integration_id=integration_id,
                targets=self.targets,
                since=since,
                until=until,
                trigger=trigger,
                initial_lookback=self.initial_lookback,
                on_progress=on_progress,
                batch_size=batch_size,
                rest=rest,
                overlap_seconds=overlap_seconds,
            )

    async def _poll(self, integration_id: uuid.UUID, slots: asyncio.Semaphore) -> PollResult:
        async with slots:
            started = self._clock()
            last_full = self._full_reread_at.get(integration_id)
            full = last_full is None or started - last_full >= FULL_REREAD_SECONDS
            try:
                summary = await self.pull_now(
                    integration_id=integration_id,
                    trigger="scheduler",
                    wait=0.0,
                    batch_size=POLL_BATCH_SIZE,
                    rest=POLL_REST,
                    overlap_seconds=None if full else QUICK_OVERLAP_SECONDS,
                )
            except PullBusyError:
                return PollResult(integration_id, "busy")
            except PullError as exc:
                log.warning(
                    "scheduled pull stopped",
                    integration_id=str(integration_id),
                    category=exc.category,
                    prospects_seen=exc.summary.prospects_seen,
                )
                return PollResult(integration_id, "failed", exc.summary)
            except Exception as exc:
                # One integration's trouble must not stop the others or the loop. The type
                # alone is logged: a message could quote a lead.
                log.error(
                    "scheduled pull failed",
                    integration_id=str(integration_id),
                    error_type=type(exc).__name__,
                )
                return PollResult(integration_id, "failed")
            if full:
                self._full_reread_at[integration_id] = started
            if summary.new_leads or summary.updated_leads or summary.failed_window:
                log.info("pulled", **_log_fields(summary))
            return PollResult(integration_id, "pulled", summary)

    async def poll_once(self) -> list[PollResult]:
        """One round over every due integration (a few at a time)."""
        slots = asyncio.Semaphore(self.concurrency)
        ids = await self.due_integrations()
        return list(await asyncio.gather(*(self._poll(i, slots) for i in ids)))

    async def _round(self, stop: asyncio.Event) -> None:
        """One poll round, cut short by ``stop``: a cancelled pull has committed its batches
        and left the cursor where it was, so the next start reads that window again."""
        round_ = asyncio.ensure_future(self.poll_once())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({round_, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not round_.done():
            round_.cancel()
        try:
            await round_
        except asyncio.CancelledError:
            if not stop.is_set():
                raise  # we were cancelled ourselves, not stopped
        except Exception as exc:
            # Listing the integrations failed (database hiccup): try again next round.
            log.error("pull round failed", error_type=type(exc).__name__)

    async def run(self, stop: asyncio.Event) -> None:
        log.info("pull scheduler started", interval=self.interval)
        while not stop.is_set():
            await self._round(stop)
            delay = next_delay(interval=self.interval, jitter=self.jitter, rng=self._rng)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        log.info("pull scheduler stopped")


def _log_fields(summary: PullSummary) -> dict[str, object]:
    return {
        "integration_id": str(summary.integration_id),
        "new_leads": summary.new_leads,
        "updated_leads": summary.updated_leads,
        "conflicts_open": summary.conflicts_open,
        "failed_syncs": summary.failed_syncs,
        "crowded_window": summary.failed_window is not None,
    }
