"""The claim statement of the lead_sync_queue (see `repository.claim`), built once per
variant: building it and its cache key per claim cost more CPU than SQLite spends running it
(issue 10: with it prebuilt the no-op queue row went from 546 to 728 jobs/s).

Also the vocabulary the claim decides by, which the rest of the queue shares.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Integer, String, and_, bindparam, cast, exists, or_, select, update
from sqlalchemy.orm import aliased

from leadsync.db.models import AppSetting, LeadSyncQueue, ResmanIntegration

ACTIVE_STATES = ("queued", "running")
#: app_setting key of the global kill switch (see flags.py, which owns reading/writing it).
KILL_SWITCH = "push_paused"
#: The operations that write to ResMan (jobs.py: PushJob, RetireJob). The kill switch and a
#: pull-only integration hold them; refreshes (reads) still run.
TO_RESMAN_OPERATIONS = ("push", "merge")

#: An earlier job of the same lead. One alias for the process: an alias made per claim
#: rebuilt its column proxies every time (1.2 ms of CPU per claim, 6 % of a push's CPU).
_EARLIER = aliased(LeadSyncQueue, name="earlier")
#: A job whose lead has an earlier job still queued or running waits for it.
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


def _claim_filter() -> Any:
    """Every condition a claimable job meets; the time is the ``now`` parameter."""
    q = LeadSyncQueue
    now = bindparam("now", type_=q.next_retry_at.type)
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


def _claim_statement(*, postgresql: bool, one_job: bool) -> Any:
    """The claim; its parameters (now, locked_until, worker_id, limit, job_id) are bound at
    execution."""
    q = LeadSyncQueue
    inner = select(q.id).where(_claim_filter())
    if one_job:
        inner = inner.where(q.id == bindparam("job_id", type_=q.id.type))
    inner = inner.order_by(q.priority.desc(), q.seq).limit(bindparam("limit", type_=Integer))
    if postgresql:
        inner = inner.with_for_update(skip_locked=True, of=q)
    return (
        update(q)
        .where(q.id.in_(inner.scalar_subquery()))
        .values(
            state="running",
            locked_by=bindparam("worker_id", type_=q.locked_by.type),
            locked_until=bindparam("locked_until", type_=q.locked_until.type),
            attempts=q.attempts + 1,
            updated_at=bindparam("now", type_=q.updated_at.type),
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


#: Per (PostgreSQL, one job only).
CLAIMS: Final = {
    (postgresql, one_job): _claim_statement(postgresql=postgresql, one_job=one_job)
    for postgresql in (False, True)
    for one_job in (False, True)
}
