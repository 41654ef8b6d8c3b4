"""The lead_sync_queue repository: enqueue, claim, finish, retry, bury, replay.

Claims are one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` statement on both
databases. On PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED`` so any number of
workers share the queue without blocking each other; SQLite has a single writer, so the
statement is atomic by construction. A job is eligible only when no earlier job of the same
``lead_key`` is still queued or running: the jobs of one lead run one at a time, in order.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import LeadSyncQueue
from leadsync.db.types import utcnow
from leadsync.sync.queue.claim_sql import (
    CLAIMS,
)

#: Default attempts for transient failures before a job becomes a dead letter. Higher than
#: the spec's column default of 3: an outage longer than a few minutes must not bury leads
#: (the circuit breaker pauses jobs during outages without spending these).
DEFAULT_MAX_RETRIES = 12
#: NOTIFY channel of new jobs (PostgreSQL): a worker process LISTENs and claims at once.
JOBS_CHANNEL = "leadsync_jobs"
#: The payload of this process's notifications. A process ignores its own: there the API's
#: inline first attempt runs the job, and the worker is woken only if that attempt cannot
#: (waking it at commit would make it race the inline attempt and the API answer "pending").
PROCESS_TAG = f"{socket.gethostname()}:{os.getpid()}"
#: Built once: a statement made per call spends more CPU on being built and looked up in the
#: compiled cache than SQLite spends running it.
_INSERT_JOB = insert(LeadSyncQueue.metadata.tables[LeadSyncQueue.__tablename__])


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: uuid.UUID
    integration_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    lead_key: str
    seq: int
    sync_operation: str
    sync_data: dict[str, Any]
    retry_count: int
    max_retries: int
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to add: where it goes in the queue and what it carries."""

    integration_id: uuid.UUID
    conversation_id: uuid.UUID | None
    lead_key: str
    operation: str
    data: dict[str, Any]
    priority: int = 2
    resman_lead_id: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    due_at: datetime | None = None

    def row(self, *, job_id: uuid.UUID, now: datetime) -> dict[str, Any]:
        return {
            "id": job_id,
            "integration_id": self.integration_id,
            "conversation_id": self.conversation_id,
            "lead_key": self.lead_key,
            "sync_operation": self.operation,
            "sync_data": self.data,
            "priority": self.priority,
            "resman_lead_id": self.resman_lead_id,
            "max_retries": self.max_retries,
            "next_retry_at": self.due_at or now,
        }


async def enqueue(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    lead_key: str,
    operation: str,
    data: dict[str, Any],
    priority: int = 2,
    resman_lead_id: str | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    due_at: datetime | None = None,
) -> uuid.UUID:
    """Add a job in the caller's transaction (the outbox: it commits with the lead); its id.
    Due at once unless ``due_at`` says later. Flushes the session's pending changes first."""
    job = NewJob(
        integration_id=integration_id,
        conversation_id=conversation_id,
        lead_key=lead_key,
        operation=operation,
        data=data,
        priority=priority,
        resman_lead_id=resman_lead_id,
        max_retries=max_retries,
        due_at=due_at,
    )
    (job_id,) = await enqueue_many(session, jobs=[job])
    return job_id


async def enqueue_many(session: AsyncSession, *, jobs: Sequence[NewJob]) -> list[uuid.UUID]:
    """Add ``jobs`` in the caller's transaction with one INSERT (executemany); their ids, in
    order. Flushes the session's pending changes first.

    A Core INSERT rather than ORM objects: the unit of work's flush of a new job (with the
    RETURNING of its server-made ``seq``) cost more CPU than all the rest of a webhook's
    acceptance (issue 10); nobody needs the objects, only their ids.
    """
    if not jobs:
        return []
    # Earlier ORM changes go first, as an ORM flush of the jobs would have sent them.
    await session.flush()
    now = utcnow()
    ids = [uuid.uuid4() for _ in jobs]
    rows = [job.row(job_id=job_id, now=now) for job, job_id in zip(jobs, ids, strict=True)]
    await session.execute(_INSERT_JOB, rows[0] if len(rows) == 1 else rows)
    if session.get_bind().dialect.name == "postgresql":
        # Workers in other processes wake at commit (db/listen.py), not at their next poll;
        # PostgreSQL folds the notifications of one transaction into one.
        await session.execute(
            text("SELECT pg_notify(:channel, :tag)"), {"channel": JOBS_CHANNEL, "tag": PROCESS_TAG}
        )
    return ids


async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    limit: int,
    lease: timedelta,
    job_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs (or exactly ``job_id`` if it is due) to ``worker_id``."""
    now = now or utcnow()
    postgresql = session.get_bind().dialect.name == "postgresql"
    params: dict[str, Any] = {
        "now": now,
        "locked_until": now + lease,
        "worker_id": worker_id,
        "limit": limit,
    }
    if job_id is not None:
        params["job_id"] = job_id
    rows = (await session.execute(CLAIMS[postgresql, job_id is not None], params)).all()
    jobs = [
        ClaimedJob(
            id=r.id,
            integration_id=r.integration_id,
            conversation_id=r.conversation_id,
            lead_key=r.lead_key,
            seq=r.seq,
            sync_operation=r.sync_operation,
            sync_data=r.sync_data or {},
            retry_count=r.retry_count,
            max_retries=r.max_retries,
            attempts=r.attempts,
            created_at=r.created_at,
        )
        for r in rows
    ]
    # RETURNING order is unspecified; callers start jobs in queue order.
    jobs.sort(key=lambda j: j.seq)
    return jobs


def _owned(job_id: uuid.UUID, worker_id: str) -> Any:
    # Only the lease holder may settle a job: if our lease expired and another worker took
    # the job over, our late outcome must not overwrite its state.
    return and_(LeadSyncQueue.id == job_id, LeadSyncQueue.locked_by == worker_id)


#: Built once (see `claim_sql`); a job's ResMan id is kept when none is given.
_SUCCEEDED: Final = (
    update(LeadSyncQueue)
    .where(
        LeadSyncQueue.id == bindparam("job_id", type_=LeadSyncQueue.id.type),
        LeadSyncQueue.locked_by == bindparam("worker_id", type_=LeadSyncQueue.locked_by.type),
    )
    .values(
        state="succeeded",
        locked_by=None,
        locked_until=None,
        last_error=None,
        error_category=None,
        updated_at=bindparam("now", type_=LeadSyncQueue.updated_at.type),
        resman_lead_id=func.coalesce(
            bindparam("resman_lead_id", type_=LeadSyncQueue.resman_lead_id.type),
            LeadSyncQueue.resman_lead_id,
        ),
    )
    .execution_options(synchronize_session=False)
)


async def mark_succeeded(
    session: AsyncSession, *, job_id: uuid.UUID, worker_id: str, resman_lead_id: str | None
) -> bool:
    # Only the lease holder may settle a job (see `_owned`).
    result = await session.execute(
        _SUCCEEDED,
        {
            "job_id": job_id,
            "worker_id": worker_id,
            "now": utcnow(),
            "resman_lead_id": resman_lead_id or None,
        },
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def schedule_retry(
    session: AsyncSession,
    *,
    job_id: uuid.UUID,
    worker_id: str,
    delay: float,
    error: str,
    category: str,
    count_retry: bool,
) -> bool:
    """Back to ``queued`` after ``delay`` seconds; ``count_retry`` False while the
    integration's circuit is open (an outage must not use up a job's retries)."""
    now = utcnow()
    values: dict[str, Any] = {
        "state": "queued",
        "locked_by": None,
        "locked_until": None,
        "next_retry_at": now + timedelta(seconds=delay),
        "last_error": error[:2000],
        "error_category": category,
        "updated_at": now,
    }
    if count_retry:
        values["retry_count"] = LeadSyncQueue.retry_count + 1
    result = await session.execute(
        update(LeadSyncQueue).where(_owned(job_id, worker_id)).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def bury(
    session: AsyncSession, *, job_id: uuid.UUID, worker_id: str, error: str, category: str
) -> bool:
    """Dead letter: kept for inspection and replay, never retried on its own."""
    now = utcnow()
    result = await session.execute(
        update(LeadSyncQueue)
        .where(_owned(job_id, worker_id))
        .values(
            state="dead",
            locked_by=None,
            locked_until=None,
            last_error=error[:2000],
            error_category=category,
            dead_at=now,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def replay(
    session: AsyncSession, *, job_ids: Sequence[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Dead letters back to ``queued`` with fresh retries (all of them when no ids given)."""
    q = LeadSyncQueue
    stmt = (
        update(q)
        .where(q.state == "dead")
        .values(
            state="queued",
            retry_count=0,
            next_retry_at=utcnow(),
            dead_at=None,
            updated_at=utcnow(),
        )
        .returning(q.id)
    )
    if job_ids is not None:
        stmt = stmt.where(q.id.in_(list(job_ids)))
    return [r[0] for r in (await session.execute(stmt)).all()]


async def list_jobs(
    session: AsyncSession,
    *,
    state: str | None = None,
    integration_ids: Collection[uuid.UUID] | None = None,
    limit: int = 100,
) -> list[LeadSyncQueue]:
    stmt = select(LeadSyncQueue).order_by(LeadSyncQueue.seq).limit(limit)
    if state:
        stmt = stmt.where(LeadSyncQueue.state == state)
    if integration_ids is not None:
        stmt = stmt.where(LeadSyncQueue.integration_id.in_(list(integration_ids)))
    return list((await session.scalars(stmt)).all())


async def counts_by_state(
    session: AsyncSession, *, integration_ids: Collection[uuid.UUID] | None = None
) -> dict[str, int]:
    stmt = select(LeadSyncQueue.state, func.count()).group_by(LeadSyncQueue.state)
    if integration_ids is not None:
        stmt = stmt.where(LeadSyncQueue.integration_id.in_(list(integration_ids)))
    rows = await session.execute(stmt)
    return {state: int(n) for state, n in rows.all()}


async def job_state(session: AsyncSession, *, job_id: uuid.UUID) -> str | None:
    return await session.scalar(select(LeadSyncQueue.state).where(LeadSyncQueue.id == job_id))


async def job_states(
    session: AsyncSession, *, job_ids: Collection[uuid.UUID], integration_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The state of each of ``job_ids`` that belongs to one of ``integration_ids``."""
    rows = await session.execute(
        select(LeadSyncQueue.id, LeadSyncQueue.state).where(
            LeadSyncQueue.id.in_(list(job_ids)),
            LeadSyncQueue.integration_id.in_(list(integration_ids)),
        )
    )
    return {row.id: row.state for row in rows}


async def purge_succeeded(session: AsyncSession, *, older_than: datetime) -> int:
    result = await session.execute(
        delete(LeadSyncQueue).where(
            LeadSyncQueue.state == "succeeded", LeadSyncQueue.updated_at < older_than
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
