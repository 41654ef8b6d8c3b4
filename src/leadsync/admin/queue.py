"""The operator's view of the sync queue: jobs by state, dead letters and their replay."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import AdminError, NotFoundError
from leadsync.db.models import LeadSyncQueue
from leadsync.db.vocab import QUEUE_STATES
from leadsync.sync.queue import repository as sync_queue
from leadsync.sync.queue.views import job_summary

MAX_LIMIT = 10_000


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise AdminError(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


async def list_queue(
    session: AsyncSession, *, state: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Jobs in queue order, optionally of one state."""
    if state is not None and state not in QUEUE_STATES:
        raise AdminError(f"state must be one of {', '.join(QUEUE_STATES)} (got {state!r})")
    jobs = await sync_queue.list_jobs(session, state=state, limit=_check_limit(limit))
    return [job_summary(job) for job in jobs]


async def dead_letters(session: AsyncSession, *, limit: int = 100) -> list[dict[str, Any]]:
    """Jobs that gave up (permanent error or retries exhausted), in queue order."""
    return await list_queue(session, state="dead", limit=limit)


async def replay_dead(session: AsyncSession, *, job_ids: list[uuid.UUID] | None) -> list[uuid.UUID]:
    """Queue dead letters again with fresh retries: the given ones, or all when None.

    Given ids are checked first, so a typo or a job that is not dead fails the whole call
    instead of replaying the rest silently.
    """
    if job_ids is not None:
        wanted = list(dict.fromkeys(job_ids))
        rows = await session.execute(
            select(LeadSyncQueue.id, LeadSyncQueue.state).where(LeadSyncQueue.id.in_(wanted))
        )
        states: dict[uuid.UUID, str] = dict(rows.all())
        for job_id in wanted:
            if job_id not in states:
                raise NotFoundError(f"no queue job with id {job_id}")
            if states[job_id] != "dead":
                raise AdminError(
                    f"job {job_id} is {states[job_id]}, not dead; only dead letters are retried"
                )
        job_ids = wanted
    return await sync_queue.replay(session, job_ids=job_ids)


async def queue_stats(session: AsyncSession) -> dict[str, int]:
    """The number of jobs in every state (zero included) and their total."""
    counts = await sync_queue.counts_by_state(session)
    stats = {state: counts.get(state, 0) for state in QUEUE_STATES}
    stats["total"] = sum(counts.values())
    return stats
