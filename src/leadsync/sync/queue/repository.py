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
from typing import Any

from sqlalchemy import (
    String,
    and_,
    cast,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from leadsync.db.models import AppSetting, LeadSyncQueue, ResmanIntegration
from leadsync.db.types import utcnow

#: Default attempts for transient failures before a job becomes a dead letter. Higher than
#: the spec's column default of 3: an outage longer than a few minutes must not bury leads
#: (the circuit breaker pauses jobs during outages without spending these).
DEFAULT_MAX_RETRIES = 12
ACTIVE_STATES = ("queued", "running")
#: app_setting key of the global kill switch (see flags.py, which owns reading/writing it).
KILL_SWITCH = "push_paused"
#: The operations that write to ResMan (jobs.py: PushJob, RetireJob). The kill switch and a
#: pull-only integration hold them; refreshes (reads) still run.
TO_RESMAN_OPERATIONS = ("push", "merge")
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
    Due at once unless ``due_at`` says later. Flushes the session's pending changes first.

    A Core INSERT rather than an ORM object: the unit of work's flush of a new job (with the
    RETURNING of its server-made ``seq``) cost more CPU than all the rest of a webhook's
    acceptance (issue 10); nobody needs the object, only its id.
    """
    # Earlier ORM changes go first, as an ORM flush of the job would have sent them.
    await session.flush()
    job_id = uuid.uuid4()
    await session.execute(
        _INSERT_JOB,
        {
            "id": job_id,
            "integration_id": integration_id,
            "conversation_id": conversation_id,
            "lead_key": lead_key,
            "sync_operation": operation,
            "sync_data": data,
            "priority": priority,
            "resman_lead_id": resman_lead_id,
            "max_retries": max_retries,
            "next_retry_at": due_at or utcnow(),
        },
    )
    if session.get_bind().dialect.name == "postgresql":
        # Workers in other processes wake at commit (db/listen.py), not at their next poll;
        # PostgreSQL folds the notifications of one transaction into one.
        await session.execute(
            text("SELECT pg_notify(:channel, :tag)"), {"channel": JOBS_CHANNEL, "tag": PROCESS_TAG}
        )
    return job_id


#: An earlier job of the same lead. One alias for the process: an alias made per claim
#: rebuilt its column proxies every time (1.2 ms of CPU per claim, 6 % of a push's CPU).
_EARLIER = aliased(LeadSyncQueue, name="earlier")
#: Every claim's filter except what depends on the time (built once; see `_claim_filter`).
_BLOCKED = exists().where(
    _EARLIER.lead_key == LeadSyncQueue.lead_key,
    _EARLIER.seq < LeadSyncQueue.seq,
    _EARLIER.state.in_(ACTIVE_STATES),
)
# The kill switch is read in the claim statement itself, not from a cache checked before
# it: a push enqueued after `sync pause` returned can never be claimed, on any instance (a
# separate check would leave a window between the read and the claim).
_WRITES_HELD = and_(
    LeadSyncQueue.sync_operation.in_(TO_RESMAN_OPERATIONS),
    exists().where(AppSetting.key == KILL_SWITCH, cast(AppSetting.value, String) == "true"),
)


def _claim_filter(now: datetime) -> Any:
    q = LeadSyncQueue
    due = or_(
        and_(q.state == "queued", q.next_retry_at <= now),
        # A running job whose lease ran out belongs to a worker that died: take it over.
        and_(q.state == "running", q.locked_until < now),
    )
    integration_ready = exists().where(
        ResmanIntegration.id == q.integration_id,
        ResmanIntegration.sync_enabled.is_(True),
        # A pull-only integration never writes to ResMan; its inbound (refresh) jobs still run.
        or_(
            q.sync_operation.not_in(TO_RESMAN_OPERATIONS),
            ResmanIntegration.sync_direction != "from_resman",
        ),
        or_(
            ResmanIntegration.circuit_open_until.is_(None),
            ResmanIntegration.circuit_open_until <= now,
        ),
    )
    return and_(due, ~_BLOCKED, integration_ready, ~_WRITES_HELD)


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
    q = LeadSyncQueue
    inner = select(q.id).where(_claim_filter(now))
    if job_id is not None:
        inner = inner.where(q.id == job_id)
    inner = inner.order_by(q.priority.desc(), q.seq).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        inner = inner.with_for_update(skip_locked=True, of=q)
    stmt = (
        update(q)
        .where(q.id.in_(inner.scalar_subquery()))
        .values(
            state="running",
            locked_by=worker_id,
            locked_until=now + lease,
            attempts=q.attempts + 1,
            updated_at=now,
        )
        .returning(
            q.id,
            q.integration_id,
            q.conversation_id,
            q.lead_key,
            q.seq,
            q.sync_operation,
            q.sync_data,
            q.retry_count,
            q.max_retries,
            q.attempts,
            q.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(stmt)).all()
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


async def mark_succeeded(
    session: AsyncSession, *, job_id: uuid.UUID, worker_id: str, resman_lead_id: str | None
) -> bool:
    values: dict[str, Any] = {
        "state": "succeeded",
        "locked_by": None,
        "locked_until": None,
        "last_error": None,
        "error_category": None,
        "updated_at": utcnow(),
    }
    if resman_lead_id:
        values["resman_lead_id"] = resman_lead_id
    result = await session.execute(
        update(LeadSyncQueue).where(_owned(job_id, worker_id)).values(**values)
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
