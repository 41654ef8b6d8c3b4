"""The operator's view of the sync queue: jobs by state, dead letters and their replay."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import AdminError, NotFoundError
from leadsync.db.models import LeadSyncQueue
from leadsync.db.vocab import QUEUE_STATES
from leadsync.sync.queue import repository as sync_queue
from leadsync.sync.queue.flags import push_paused
from leadsync.sync.queue.views import job_summary

MAX_LIMIT = 10_000


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise AdminError(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


async def list_queue(
    session: AsyncSession,
    *,
    state: str | None = None,
    limit: int = 100,
    integration_ids: list[uuid.UUID] | None = None,
) -> list[dict[str, Any]]:
    """Jobs in queue order, optionally of one state; only those of ``integration_ids`` when
    given (a caller scoped to some properties)."""
    if state is not None and state not in QUEUE_STATES:
        raise AdminError(f"state must be one of {', '.join(QUEUE_STATES)} (got {state!r})")
    jobs = await sync_queue.list_jobs(
        session, state=state, integration_ids=integration_ids, limit=_check_limit(limit)
    )
    return [job_summary(job) for job in jobs]


async def dead_letters(
    session: AsyncSession, *, limit: int = 100, integration_ids: list[uuid.UUID] | None = None
) -> list[dict[str, Any]]:
    """Jobs that gave up (permanent error or retries exhausted), in queue order."""
    return await list_queue(session, state="dead", limit=limit, integration_ids=integration_ids)


async def replay_dead(
    session: AsyncSession,
    *,
    job_ids: list[uuid.UUID] | None,
    integration_ids: list[uuid.UUID] | None = None,
) -> list[uuid.UUID]:
    """Queue dead letters again with fresh retries: the given ones, or all when None.

    Given ids are checked first, so a typo or a job that is not dead fails the whole call
    instead of replaying the rest silently. With ``integration_ids``, a job of another
    integration is reported as not found, and "all" means all of theirs.
    """
    if job_ids is None and integration_ids is not None:
        jobs = await sync_queue.list_jobs(
            session, state="dead", integration_ids=integration_ids, limit=MAX_LIMIT * 10
        )
        job_ids = [job.id for job in jobs]
        if not job_ids:
            return []
    if job_ids is not None:
        wanted = list(dict.fromkeys(job_ids))
        query = select(LeadSyncQueue.id, LeadSyncQueue.state).where(LeadSyncQueue.id.in_(wanted))
        if integration_ids is not None:
            query = query.where(LeadSyncQueue.integration_id.in_(integration_ids))
        states: dict[uuid.UUID, str] = dict((await session.execute(query)).all())
        for job_id in wanted:
            if job_id not in states:
                raise NotFoundError(f"no queue job with id {job_id}")
            if states[job_id] != "dead":
                raise AdminError(
                    f"job {job_id} is {states[job_id]}, not dead; only dead letters are retried"
                )
        job_ids = wanted
    return await sync_queue.replay(session, job_ids=job_ids)


async def queue_stats(
    session: AsyncSession, *, integration_ids: list[uuid.UUID] | None = None
) -> dict[str, int]:
    """The number of jobs in every state (zero included) and their total, of all jobs or of
    those of ``integration_ids``."""
    counts = await sync_queue.counts_by_state(session, integration_ids=integration_ids)
    stats = {state: counts.get(state, 0) for state in QUEUE_STATES}
    stats["total"] = sum(counts.values())
    return stats


async def oldest_queued(
    session: AsyncSession, *, integration_ids: list[uuid.UUID] | None = None
) -> datetime | None:
    """When the oldest job still waiting to run was queued (None when none waits)."""
    query = select(func.min(LeadSyncQueue.created_at)).where(LeadSyncQueue.state == "queued")
    if integration_ids is not None:
        query = query.where(LeadSyncQueue.integration_id.in_(integration_ids))
    oldest: datetime | None = await session.scalar(query)
    return oldest


async def pushes_paused(session: AsyncSession) -> bool:
    """Whether the global kill switch (the rollback flag) holds every push."""
    return await push_paused(session)
