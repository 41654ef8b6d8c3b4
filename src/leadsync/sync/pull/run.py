"""Pull: read every prospect ResMan modified in a window and apply it to DomIQ.

The window runs from the integration's cursor (minus an overlap, so rows that share a
timestamp with the cursor or commit late are read again) to one second before now. ResMan is
read with no write transaction open, and prospects are applied in small batches, each in its
own transaction: on SQLite a transaction holds the only write lock, so a slow ResMan must
never sit inside one.

The cursor moves only over what has been stored: to the end of the window when all of it was
read and applied, or to the start of a window that could not be read (a crowd of prospects
sharing one second that no split can separate), never past a prospect that is not stored or
queued for a retry. Re-reading is harmless: applying the same prospect twice changes nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.models import ResmanIntegration
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.errors import LeadsyncError
from leadsync.resman.errors import ResManError
from leadsync.resman.models import ProspectEntry
from leadsync.resman.search import SearchProgress, UnsplittableWindowError, Window, search_window
from leadsync.sync.inbound.webhooks import replay_parked
from leadsync.sync.pull.plan import (
    DEFAULT_INITIAL_LOOKBACK,
    PullSummary,
    advance_cursor,
    plan_window,
)
from leadsync.sync.pull.store import BatchStore
from leadsync.sync.queue.failures import classify
from leadsync.sync.queue.targets import IntegrationNotFoundError, ResManTarget, TargetCache
from leadsync.sync.synclog import log_sync
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

#: Prospects applied per transaction: large enough to amortise the commit, small enough to
#: keep SQLite's write lock short for the API and the worker.
DEFAULT_BATCH_SIZE = 200
#: The same for the scheduler's polls, which share the process with the API and the worker:
#: on SQLite a batch runs on the event loop's thread (`leadsync.db.sqlite_inline`) under the
#: write lock, so a small one keeps every other request's wait short (the lock is FIFO:
#: writers queued meanwhile go before the next batch).
POLL_BATCH_SIZE = 5
#: Seconds a scheduled poll rests per second spent storing a batch: while it stores, it takes
#: at most a third of the event loop, and the API's requests and the worker's jobs the rest.
#: The first poll after a push applies each new prospect once (its fingerprint is unknown
#: until ResMan's record is read), ~2 ms each: at 25 leads/s that is ~0.5 s of work every
#: 10 s, which in one stretch made the POSTs of that second queue behind it.
POLL_REST = 2.0

ProgressCallback = Callable[[SearchProgress], None]


class PullError(LeadsyncError):
    """ResMan failed mid-pull. What was read before the failure is stored and the cursor
    moved over it; ``summary`` says how far the pull got."""

    def __init__(self, summary: PullSummary, *, category: str) -> None:
        super().__init__(
            f"pull of integration {summary.integration_id} stopped after "
            f"{summary.prospects_seen} prospect(s): ResMan {category} error"
        )
        self.summary = summary
        self.category = category


# --- the run --------------------------------------------------------------------------------
@dataclass(slots=True)
class _Stream:
    """Where a streaming pull stands: ``mark`` is the end of the last window read in full,
    ``stored_until`` the last mark whose prospects are all committed."""

    mark: datetime | None = None
    stored_until: datetime | None = None
    batch: list[ProspectEntry] = field(default_factory=list)
    #: ResMan ids of the prospects stored and linked by this pull.
    applied: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Plan:
    integration_id: uuid.UUID
    property_id: uuid.UUID
    cursor_at: datetime | None
    window: Window | None
    #: Our Chatbot TransactionSource id: our own events coming back are not news.
    own_source: str | None
    initial_lookback: timedelta


async def pull_integration(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    integration_id: uuid.UUID,
    targets: TargetCache,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    trigger: str = "scheduler",
    initial_lookback: timedelta = DEFAULT_INITIAL_LOOKBACK,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rest: float = 0.0,
    on_progress: ProgressCallback | None = None,
    overlap_seconds: int | None = None,
) -> PullSummary:
    """Pull one integration's window (see the module doc) and return what it did. After each
    batch the pull rests ``rest`` seconds per second the batch took (a background poll's
    share of the event loop; see ``POLL_REST``).

    Raises :class:`PullError` when ResMan fails mid-pull (after storing what was read) and
    :class:`IntegrationNotFoundError` for an unknown integration. The caller serialises pulls
    of one integration (see ``leadsync.sync.pull.scheduler``); two at once would still store
    everything once, but could trip over each other's new leads.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if rest < 0:
        raise ValueError("rest must not be negative")
    now = now or utcnow()
    async with read_session(sessionmaker) as session:
        integration = await session.get(ResmanIntegration, integration_id)
        if integration is None:
            raise IntegrationNotFoundError(str(integration_id))
        # Only the source id, best effort: a pull never needs the lost reasons.
        target = await targets.get(session, integration_id=integration_id, needs="pull")
        plan = _Plan(
            integration_id=integration.id,
            property_id=integration.property_id,
            cursor_at=integration.pull_cursor_at,
            window=plan_window(
                cursor_at=integration.pull_cursor_at,
                overlap_seconds=_overlap(integration.pull_overlap_seconds, overlap_seconds),
                now=now,
                since=since,
                until=until,
                initial_lookback=initial_lookback,
            ),
            own_source=target.transaction_source,
            initial_lookback=initial_lookback,
        )
    summary = PullSummary(
        integration_id=plan.integration_id,
        property_id=plan.property_id,
        trigger=trigger,
        cursor_before=plan.cursor_at,
        cursor_after=plan.cursor_at,
    )
    if plan.window is None:
        await _finish(
            sessionmaker, plan=plan, summary=summary, stored_until=None, now=now, applied=set()
        )
        return summary
    summary.window_start, summary.window_end = plan.window
    stream = _Stream()
    failure = await _read_window(
        sessionmaker,
        plan=plan,
        target=target,
        window=plan.window,
        stream=stream,
        summary=summary,
        batch_size=batch_size,
        rest=rest,
        on_progress=on_progress,
    )
    unstored = await _flush(sessionmaker, plan=plan, stream=stream, summary=summary)
    failure = failure or unstored
    await _finish(
        sessionmaker,
        plan=plan,
        summary=summary,
        stored_until=stream.stored_until,
        now=now,
        applied=stream.applied,
        error=failure,
    )
    if failure is not None:
        raise PullError(summary, category=classify(failure).category) from failure
    return summary


async def _read_window(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    plan: _Plan,
    target: ResManTarget,
    window: Window,
    stream: _Stream,
    summary: PullSummary,
    batch_size: int,
    rest: float,
    on_progress: ProgressCallback | None,
) -> ResManError | None:
    """Read the plan's window into ``stream``, storing a batch whenever one is full; the
    ResMan error that stopped the read, if any (a crowded window is reported in
    ``summary``, not raised)."""

    def progress(report: SearchProgress) -> None:
        stream.mark = report.completed_until
        summary.windows_done = report.windows_done
        summary.windows_split = report.windows_split
        if on_progress is not None:
            on_progress(report)

    search = search_window(
        client=target.client,
        creds=target.creds,
        start=window[0],
        end=window[1],
        on_progress=progress,
    )
    started = time.perf_counter()
    try:
        # Closed on any way out: it may have the next window's search in flight.
        async with aclosing(search):
            async for prospect in search:
                summary.prospects_seen += 1
                stream.batch.append(prospect)
                if len(stream.batch) >= batch_size:
                    unstored = await _flush(sessionmaker, plan=plan, stream=stream, summary=summary)
                    if unstored is not None:
                        return unstored
                    # A turn of the loop between batches, and for a background poll a rest
                    # in proportion to the batch. Nothing above need suspend: a page is read
                    # ahead and, on SQLite, a batch runs inline under a free write lock; a
                    # poll applied a whole page in one stretch, and at 25 leads/s the API's
                    # requests queued behind it (issue 10: POST p99 0.3 s; 39 ms without
                    # the poller).
                    await _rest((time.perf_counter() - started) * rest)
                    started = time.perf_counter()
    except UnsplittableWindowError as exc:
        # Everything before exc.start was yielded: it is stored by the caller, and the
        # cursor may stop exactly there. The crowd itself is reported, not skipped.
        summary.failed_window = (exc.start, exc.end)
        stream.mark = exc.start
        log.warning(
            "pull window too crowded to read",
            integration_id=str(plan.integration_id),
            window_start=exc.start.isoformat(),
            window_end=exc.end.isoformat(),
        )
    except ResManError as exc:
        return exc
    return None


async def _rest(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _overlap(own: int, asked: int | None) -> int:
    """A caller may re-read less than the integration's overlap, never more."""
    return own if asked is None else min(own, asked)


async def _flush(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    plan: _Plan,
    stream: _Stream,
    summary: PullSummary,
) -> ResManError | None:
    """Apply and commit the batch; afterwards every window read so far is stored. A prospect
    ResMan sent that cannot be read (read only now: see ``ProspectEntry``) stops the pull
    as an unreadable answer would: its error is returned, nothing of the batch is stored,
    and the stream stays where it was stored."""
    mark = stream.mark
    if stream.batch:
        store = BatchStore(
            sessionmaker=sessionmaker,
            integration_id=plan.integration_id,
            property_id=plan.property_id,
            own_source=plan.own_source,
        )
        try:
            outcomes = await store.apply_batch(stream.batch)
            if outcomes is None:
                outcomes = await store.apply_one_by_one(stream.batch, summary=summary)
        except ResManError as exc:
            stream.batch = []
            stream.mark = stream.stored_until
            return exc
        for prospect_id, outcome in outcomes:
            summary.count(outcome)
            if prospect_id is not None and outcome.action != "ignored":
                stream.applied.add(prospect_id)
        stream.batch = []
    stream.stored_until = mark
    return None


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    plan: _Plan,
    summary: PullSummary,
    stored_until: datetime | None,
    now: datetime,
    applied: set[str],
    error: ResManError | None = None,
) -> None:
    """Move the cursor over what was stored, stamp last_sync_at, log the run, and queue again
    the webhooks that were parked because their lead was unknown until now."""
    async with sessionmaker() as session, session.begin():
        # FOR UPDATE (a no-op on SQLite, whose write transaction is exclusive anyway): a
        # concurrent pull must not move the cursor between this read and the write.
        current = await session.scalar(
            select(ResmanIntegration.pull_cursor_at)
            .where(ResmanIntegration.id == plan.integration_id)
            .with_for_update()
        )
        window_start = plan.window[0] if plan.window else now
        cursor = advance_cursor(
            cursor_at=current,
            window_start=window_start,
            stored_until=stored_until,
            now=now,
            initial_lookback=plan.initial_lookback,
        )
        values: dict[str, Any] = {
            "pull_cursor_at": cursor,
            # Kept as is: updated_at versions the integration's configuration (the target
            # cache re-resolves on a change), and the cursor is not configuration.
            "updated_at": ResmanIntegration.updated_at,
        }
        if error is None:
            values["last_sync_at"] = utcnow()
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == plan.integration_id)
            .values(**values)
        )
        summary.cursor_after = cursor
        if _worth_logging(summary, error):
            await log_sync(
                session,
                conversation_id=None,
                integration_id=plan.integration_id,
                direction="from_resman",
                status="failed" if error or summary.failed_window else "success",
                sync_type="enrichment",
                error=f"ResMan {classify(error).category} error" if error else None,
                details={"pull": summary.to_dict()},
            )
        if applied:
            await replay_parked(session, integration_id=plan.integration_id, prospect_ids=applied)


def _worth_logging(summary: PullSummary, error: ResManError | None) -> bool:
    # The scheduler polls every few seconds; a row per uneventful poll would bury the log.
    if summary.trigger != "scheduler" or error is not None or summary.failed_window:
        return True
    return bool(
        summary.new_leads or summary.updated_leads or summary.conflicts_open or summary.failed_syncs
    )
