"""Settle an attempt that failed: retry it later (with back-off, or held while the
integration's circuit is open, spending no retry) or bury it as a dead letter, log it, and
say which. Runs in a fresh transaction after the work's transaction rolled back."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.backoff import retry_delay
from leadsync.db.types import utcnow
from leadsync.resman import wire
from leadsync.resman.errors import ResManConnectionError, ResManTimeoutError
from leadsync.sync.queue import circuit_store
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.circuit import Attempt, Circuits
from leadsync.sync.queue.failures import INTERNAL, Failure, classify, safe_message
from leadsync.sync.queue.policy import RetryPolicy
from leadsync.sync.queue.repository import ClaimedJob
from leadsync.sync.synclog import log_sync
from leadsync.telemetry.logging import get_logger
from leadsync.telemetry.metrics import INTERNAL_ERRORS

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: uuid.UUID
    #: succeeded | retry | dead | lost (our lease was taken over; nothing settled)
    state: str
    resman_lead_id: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Settling:
    """What settling needs of the runner: its sessions, identity, policy and breakers."""

    sessionmaker: async_sessionmaker[AsyncSession]
    worker_id: str
    policy: RetryPolicy
    circuits: Circuits
    #: Jitter only.
    rng: random.Random


async def settle_failure(
    how: Settling,
    job: ClaimedJob,
    exc: Exception,
    *,
    sync_type: str,
    started: float,
    attempt: Attempt,
) -> Outcome:
    failure = classify(exc)
    error_id = uuid.uuid4().hex[:12]
    message = safe_message(exc, failure, error_id=error_id)
    if failure.category == INTERNAL:
        # A bug: the traceback goes to the log (redacted) under the id the row shows.
        log.error(
            "job failed on an internal error",
            job_id=str(job.id),
            error_id=error_id,
            exc_info=exc,
        )
        INTERNAL_ERRORS.labels(operation=job.sync_operation).inc()
    async with how.sessionmaker() as session, session.begin():
        now = utcnow()
        open_until = None
        if job.integration_id is not None:
            open_until = await how.circuits.settle(
                session,
                job.integration_id,
                attempt=attempt,
                pause_for=_pause_seconds(how.policy, failure),
            ) or await circuit_store.open_until(session, integration_id=job.integration_id)
        # A failure that trips, or meets, an open circuit spends no retry: an outage
        # must not turn good leads into dead letters.
        held = open_until is not None and open_until > now
        limit = min(job.max_retries, how.policy.max_retries)
        if failure.permanent or (not held and job.retry_count + 1 >= limit):
            category = failure.category if failure.permanent else "retries_exhausted"
            owned = await queue.bury(
                session,
                job_id=job.id,
                worker_id=how.worker_id,
                error=message,
                category=category,
            )
            state = "dead"
        else:
            delay = _retry_delay(how, job, exc, failure)
            if held and open_until is not None:
                delay = max(delay if _ambiguous(exc) else 0.0, _seconds(open_until - now))
            owned = await queue.schedule_retry(
                session,
                job_id=job.id,
                worker_id=how.worker_id,
                delay=delay,
                error=message,
                category=failure.category,
                count_retry=not held,
            )
            state = "retry"
        if not owned:
            return Outcome(job.id, "lost", error=message)
        await log_sync(
            session,
            conversation_id=job.conversation_id,
            integration_id=job.integration_id,
            direction="from_resman" if job.sync_operation == "pull" else "to_resman",
            status="failed",
            sync_type=sync_type,
            job_id=job.id,
            attempt=job.attempts,
            error=message,
            details={"category": failure.category, "outcome": state, "error_id": error_id},
            duration_ms=_ms(started),
        )
    log.info(
        "job attempt failed",
        job_id=str(job.id),
        category=failure.category,
        outcome=state,
        attempt=job.attempts,
        error_id=error_id,
    )
    return Outcome(job.id, state, error=message)


def _pause_seconds(policy: RetryPolicy, failure: Failure) -> float | None:
    """How long a throttled or refused integration rests (None: no pause)."""
    if not failure.pause:
        return None
    if failure.retry_after is not None:
        return failure.retry_after
    # Bad credentials heal only when someone fixes them (`integration update` then
    # resumes the integration at once); throttling may heal in seconds.
    if failure.category == "authentication":
        return policy.auth_pause_seconds
    return policy.breaker.open_seconds


def _retry_delay(how: Settling, job: ClaimedJob, exc: Exception, failure: Failure) -> float:
    policy = how.policy
    delay = retry_delay(
        retry_count=job.retry_count,
        retry_after=failure.retry_after,
        base=policy.unknown_error_base_seconds if failure.slow else policy.base_seconds,
        cap=policy.cap_seconds,
        rng=how.rng,
    )
    return max(delay, policy.ambiguous_retry_floor) if _ambiguous(exc) else delay


def _ambiguous(exc: BaseException) -> bool:
    """A write whose answer was lost: ResMan may still apply it, so its retry waits for the
    duplicate check to see it. A lost answer to a search changed nothing in ResMan; waiting
    a read timeout after it only slowed the queue under partial faults."""
    return (
        isinstance(exc, ResManTimeoutError | ResManConnectionError) and exc.method == wire.POST_LEAD
    )


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
