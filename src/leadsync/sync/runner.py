"""Run one claimed job inside its own boundary and settle it: succeeded, retry, or dead.

The job's work and its ``succeeded`` mark commit in ONE transaction, so a crash at any
instant either leaves the job claimable again (its lease expires) or fully done. Failures
are settled in a fresh transaction after the work's transaction rolled back.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.models import ResmanIntegration
from leadsync.db.session import begin_read
from leadsync.db.types import utcnow
from leadsync.observability import metrics
from leadsync.observability.logging import get_logger
from leadsync.resman.errors import (
    AuthenticationError,
    BusinessError,
    ConnectionError_,
    RateLimitedError,
    ResManError,
    TimeoutError_,
    TransientError,
)
from leadsync.sync import queue
from leadsync.sync.backoff import retry_delay
from leadsync.sync.push import plan_push, record_push, send_push
from leadsync.sync.queue import ClaimedJob
from leadsync.sync.retire import RETIRE_OPERATION, send_retire
from leadsync.sync.synclog import log_sync
from leadsync.sync.targets import IntegrationNotFoundError, TargetCache
from leadsync.sync.webhooks import process_inbox_job

log = get_logger(__name__)

#: Consecutive transient failures of one integration that open its circuit.
CIRCUIT_THRESHOLD = 5
CIRCUIT_BASE_SECONDS = 5.0
CIRCUIT_MAX_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: uuid.UUID
    #: succeeded | retry | dead | lost (our lease was taken over; nothing settled)
    state: str
    resman_lead_id: str | None = None
    error: str | None = None


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    trips: int = 0


@dataclass(frozen=True, slots=True)
class _Failure:
    category: str
    permanent: bool
    retry_after: float | None
    #: Pause the whole integration (outage, throttling, bad credentials).
    pause: bool


def classify(exc: BaseException) -> _Failure:
    """What a failure means for the job: the sync engine decides from the error type alone."""
    if isinstance(exc, RateLimitedError):
        return _Failure("rate_limited", False, exc.retry_after, pause=True)
    if isinstance(exc, TransientError):
        return _Failure("transient", False, exc.retry_after, pause=False)
    if isinstance(exc, AuthenticationError):
        return _Failure("authentication", False, None, pause=True)
    if isinstance(exc, BusinessError):
        return _Failure(exc.category, not exc.retryable, None, pause=False)
    if isinstance(exc, ResManError):
        return _Failure("resman", not exc.retryable, None, pause=False)
    if isinstance(exc, IntegrationNotFoundError):
        return _Failure("integration_missing", True, None, pause=False)
    return _Failure("internal", False, None, pause=False)


class JobRunner:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        targets: TargetCache,
        worker_id: str,
        lease: timedelta = timedelta(seconds=60),
        rng: random.Random | None = None,
        ambiguous_retry_floor: float = 30.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.targets = targets
        self.worker_id = worker_id
        self.lease = lease
        self._rng = rng or random.Random()  # jitter only
        #: After a timeout or dropped connection ResMan may still be processing our request;
        #: retrying sooner could create the prospect twice before the duplicate check can
        #: see the first one. Set to the client's read timeout.
        self.ambiguous_retry_floor = ambiguous_retry_floor
        self._circuits: dict[uuid.UUID, _Circuit] = {}

    async def claim_and_run(self, *, job_id: uuid.UUID) -> Outcome | None:
        """Run one specific job now if it is due (the API's inline first attempt)."""
        async with self.sessionmaker() as session, session.begin():
            jobs = await queue.claim(
                session, worker_id=self.worker_id, limit=1, lease=self.lease, job_id=job_id
            )
        if not jobs:
            return None
        outcome = await self.run(jobs[0])
        metrics.job_settled(jobs[0], outcome, inline=True)
        return outcome

    async def run(self, job: ClaimedJob) -> Outcome:
        started = time.perf_counter()
        sync_type = str(job.sync_data.get("sync_type", "update"))
        try:
            if job.integration_id is None:
                raise IntegrationNotFoundError("job has no integration")
            if job.sync_operation == "pull":
                return await self._run_refresh(job, job.integration_id)
            if job.sync_operation == RETIRE_OPERATION:
                return await self._run_retire(job, job.integration_id, started)
            return await self._run_push(job, job.integration_id, sync_type, started)
        except _LeaseLostError:
            return Outcome(job.id, "lost")
        except Exception as exc:  # every failure is settled; none escapes the runner
            return await self._settle_failure(job, exc, sync_type=sync_type, started=started)

    async def _run_push(
        self, job: ClaimedJob, integration_id: uuid.UUID, sync_type: str, started: float
    ) -> Outcome:
        async with self.sessionmaker() as session:
            # Read, then talk to ResMan with no transaction open, then write: a slow or
            # hanging ResMan must never hold database locks (SQLite has only one).
            await begin_read(session)
            target = await self.targets.get(session, integration_id=integration_id)
            plan = await plan_push(session, job=job)
            await session.commit()
            sent = await send_push(plan=plan, target=target)
            result = sent.result
            async with session.begin():
                await self._mark_done(session, job, resman_lead_id=result.prospect_id)
                await record_push(session, plan=plan, sent=sent, integration_id=integration_id)
                await self._sent(
                    session,
                    job,
                    integration_id,
                    sync_type=sync_type,
                    resman_lead_id=result.prospect_id,
                    details={"action": result.action},
                    started=started,
                )
        return Outcome(job.id, "succeeded", resman_lead_id=result.prospect_id)

    async def _run_retire(
        self, job: ClaimedJob, integration_id: uuid.UUID, started: float
    ) -> Outcome:
        """Mark a prospect a merge made surplus lost (see sync/retire.py)."""
        async with self.sessionmaker() as session:
            await begin_read(session)
            target = await self.targets.get(session, integration_id=integration_id)
            await session.commit()
            prospect_id = await send_retire(data=job.sync_data, target=target)
            async with session.begin():
                await self._mark_done(session, job, resman_lead_id=prospect_id)
                await self._sent(
                    session,
                    job,
                    integration_id,
                    sync_type="status_change",
                    resman_lead_id=prospect_id,
                    details={"action": "retired", **job.sync_data["retire"]},
                    started=started,
                )
        return Outcome(job.id, "succeeded", resman_lead_id=prospect_id)

    async def _sent(
        self,
        session: AsyncSession,
        job: ClaimedJob,
        integration_id: uuid.UUID,
        *,
        sync_type: str,
        resman_lead_id: str,
        details: dict[str, Any],
        started: float,
    ) -> None:
        """Log a job that reached ResMan; ResMan answered, so the integration's circuit closes."""
        await log_sync(
            session,
            conversation_id=job.conversation_id,
            integration_id=integration_id,
            direction="to_resman",
            status="success",
            sync_type=sync_type,
            resman_lead_id=resman_lead_id,
            job_id=job.id,
            attempt=job.attempts,
            details=details,
            duration_ms=_ms(started),
        )
        await self._close_circuit(session, integration_id)

    async def _run_refresh(self, job: ClaimedJob, integration_id: uuid.UUID) -> Outcome:
        """A webhook (or any trigger) asked us to fetch one prospect's current state."""
        async with self.sessionmaker() as session:
            await begin_read(session)
            target = await self.targets.get(session, integration_id=integration_id)
            integration = await session.get(ResmanIntegration, integration_id)
            await session.commit()
            if integration is None:
                raise IntegrationNotFoundError(str(integration_id))
            state = await process_inbox_job(
                session,
                job=job,
                integration=integration,
                client=target.client,
                creds=target.creds,
                own_source=target.transaction_source,
            )
            # The apply's writes and the job's success commit together.
            await self._mark_done(session, job, resman_lead_id=None)
            await self._close_circuit(session, integration_id)
            await session.commit()
        return Outcome(job.id, "succeeded", error=None if state == "applied" else state)

    async def _mark_done(
        self, session: AsyncSession, job: ClaimedJob, *, resman_lead_id: str | None
    ) -> None:
        owned = await queue.mark_succeeded(
            session, job_id=job.id, worker_id=self.worker_id, resman_lead_id=resman_lead_id
        )
        if not owned:
            # Another worker took the job over after our lease ran out; leave it to that
            # worker (its duplicate check finds whatever we just created).
            raise _LeaseLostError

    async def _settle_failure(
        self, job: ClaimedJob, exc: Exception, *, sync_type: str, started: float
    ) -> Outcome:
        failure = classify(exc)
        message = f"{type(exc).__name__}: {exc}"
        if failure.category == "internal":
            log.exception("job failed unexpectedly", job_id=str(job.id))
        async with self.sessionmaker() as session, session.begin():
            paused = False
            if job.integration_id is not None and (failure.pause or not failure.permanent):
                paused = await self._record_failure(session, job.integration_id, failure=failure)
            if failure.permanent or (job.retry_count + 1 >= job.max_retries and not paused):
                category = failure.category if failure.permanent else "retries_exhausted"
                owned = await queue.bury(
                    session,
                    job_id=job.id,
                    worker_id=self.worker_id,
                    error=message,
                    category=category,
                )
                state = "dead"
            else:
                delay = retry_delay(
                    retry_count=job.retry_count, retry_after=failure.retry_after, rng=self._rng
                )
                if isinstance(exc, TimeoutError_ | ConnectionError_):
                    delay = max(delay, self.ambiguous_retry_floor)
                owned = await queue.schedule_retry(
                    session,
                    job_id=job.id,
                    worker_id=self.worker_id,
                    delay=delay,
                    error=message,
                    category=failure.category,
                    # While the integration is paused the job waits for free: an outage
                    # must not turn good leads into dead letters.
                    count_retry=not paused,
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
                details={"category": failure.category, "outcome": state},
                duration_ms=_ms(started),
            )
        log.info(
            "job attempt failed",
            job_id=str(job.id),
            category=failure.category,
            outcome=state,
            attempt=job.attempts,
        )
        return Outcome(job.id, state, error=message)

    async def _record_failure(
        self, session: AsyncSession, integration_id: uuid.UUID, *, failure: _Failure
    ) -> bool:
        """Count a failure against the integration; True when it is (now) paused."""
        circuit = self._circuits.setdefault(integration_id, _Circuit())
        circuit.failures += 1
        pause_for: float | None = None
        if failure.pause:
            pause_for = failure.retry_after or CIRCUIT_BASE_SECONDS
        if circuit.failures >= CIRCUIT_THRESHOLD:
            circuit.trips += 1
            pause_for = max(
                pause_for or 0.0,
                min(CIRCUIT_MAX_SECONDS, CIRCUIT_BASE_SECONDS * 2 ** min(circuit.trips, 10)),
            )
            circuit.failures = 0
        if pause_for is None:
            return False
        until = utcnow() + timedelta(seconds=pause_for)
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            # Keep updated_at: it versions the cached target (credentials, lookups).
            .values(circuit_open_until=until, updated_at=ResmanIntegration.updated_at)
        )
        log.warning("integration paused", integration_id=str(integration_id), seconds=pause_for)
        return True

    async def _close_circuit(self, session: AsyncSession, integration_id: uuid.UUID) -> None:
        circuit = self._circuits.get(integration_id)
        if circuit is None or (circuit.failures == 0 and circuit.trips == 0):
            return
        self._circuits[integration_id] = _Circuit()
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            .values(circuit_open_until=None, updated_at=ResmanIntegration.updated_at)
        )


class _LeaseLostError(Exception):
    pass


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
