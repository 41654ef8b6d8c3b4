"""Run one claimed job inside its own boundary and settle it: succeeded, retry, or dead.

The job's work and its ``succeeded`` mark commit in ONE transaction, so a crash at any
instant either leaves the job claimable again (its lease expires) or fully done. Failures
are settled in a fresh transaction after the work's transaction rolled back.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.models import ResmanIntegration
from leadsync.db.session import begin_read
from leadsync.db.types import utcnow
from leadsync.resman.outcomes import tally_calls
from leadsync.sync.inbound.webhooks import process_inbox_job
from leadsync.sync.push.plan import plan_push
from leadsync.sync.push.record import record_push
from leadsync.sync.push.retire import send_retire
from leadsync.sync.push.send import send_push
from leadsync.sync.push.transcript import (
    WAIT_FOR_LINK_SECONDS,
    plan_transcript,
    record_transcript,
    send_transcript,
)
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.circuit import Attempt, Circuits, Gate
from leadsync.sync.queue.jobs import Job, PushJob, RefreshJob, RetireJob, TranscriptJob, read_job
from leadsync.sync.queue.policy import RetryPolicy
from leadsync.sync.queue.repository import ClaimedJob
from leadsync.sync.queue.settle import Outcome, Settling, settle_failure
from leadsync.sync.queue.targets import IntegrationNotFoundError, TargetCache
from leadsync.sync.synclog import log_sync
from leadsync.telemetry import metrics
from leadsync.telemetry.logging import get_logger

__all__ = ["JobRunner", "Outcome"]

#: How soon a create waiting for a sibling's create looks again (jittered up to 2x).
SIBLING_WAIT_SECONDS = 0.5
#: The longest a job met by an open circuit steps aside (see `_wait_for_circuit`).
CIRCUIT_STEP_ASIDE_SECONDS = 0.5

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Run:
    """One attempt of a claimed job, as its handler gets it."""

    job: ClaimedJob
    integration_id: uuid.UUID
    payload: Job
    started: float
    attempt: Attempt


Handler = Callable[[_Run], Awaitable[Outcome]]


class JobRunner:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        targets: TargetCache,
        worker_id: str,
        lease: timedelta = timedelta(seconds=60),
        rng: random.Random | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.targets = targets
        self.worker_id = worker_id
        self.lease = lease
        self._rng = rng or random.Random()  # jitter only
        self.policy = policy or RetryPolicy()
        #: The job types this runner knows, each with its handler.
        self._handlers: dict[type[Job], Handler] = {
            PushJob: self._run_push,
            RefreshJob: self._run_refresh,
            RetireJob: self._run_retire,
            TranscriptJob: self._run_transcript,
        }

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    @policy.setter
    def policy(self, policy: RetryPolicy) -> None:
        # New breaker settings start new breakers: a window is only read with its own rules.
        self._policy = policy
        self.circuits = Circuits(policy.breaker)

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
        attempt = Attempt()
        with tally_calls(attempt.calls):
            try:
                if job.integration_id is None:
                    raise IntegrationNotFoundError("job has no integration")
                attempt.gate = await self.circuits.gate(self.sessionmaker, job.integration_id)
                if not attempt.gate.allowed:
                    return await self._wait_for_circuit(job, attempt.gate)
                if attempt.gate.trial_until is None:
                    # The trial alone decides a half-open circuit; otherwise every call
                    # enters the window the moment it ends.
                    attempt.calls.on_call = self.circuits.window(job.integration_id, attempt)
                payload = read_job(job.sync_operation, job.sync_data)
                handler = self._handlers[type(payload)]
                return await handler(
                    _Run(job, job.integration_id, payload, started=started, attempt=attempt)
                )
            except _LeaseLostError:
                return Outcome(job.id, "lost")
            except Exception as exc:  # every failure is settled; none escapes the runner
                return await settle_failure(
                    Settling(
                        sessionmaker=self.sessionmaker,
                        worker_id=self.worker_id,
                        policy=self.policy,
                        circuits=self.circuits,
                        rng=self._rng,
                    ),
                    job,
                    exc,
                    sync_type=sync_type,
                    started=started,
                    attempt=attempt,
                )

    async def _wait_for_circuit(self, job: ClaimedJob, gate: Gate) -> Outcome:
        """The circuit is open: back to the queue without a call and without spending a
        retry. The claim itself skips the job while the circuit stays open, so the job only
        steps aside briefly (spread, so a half-open circuit is not met by the whole backlog at
        once); a fixed 2-4 s here kept jobs waiting long after a 0.5 s Retry-After ended."""
        delay = CIRCUIT_STEP_ASIDE_SECONDS * self._rng.random()
        until = gate.open_until.isoformat(timespec="seconds") if gate.open_until else "?"
        message = f"[circuit_open] ResMan calls paused until {until}"
        async with self.sessionmaker() as session, session.begin():
            owned = await queue.schedule_retry(
                session,
                job_id=job.id,
                worker_id=self.worker_id,
                delay=delay,
                error=message,
                category="circuit_open",
                count_retry=False,
            )
        return Outcome(job.id, "retry" if owned else "lost", error=message)

    async def _run_push(self, run: _Run) -> Outcome:
        job, integration_id, attempt = run.job, run.integration_id, run.attempt
        if not isinstance(run.payload, PushJob):
            raise TypeError("the push handler got another job")
        async with self.sessionmaker() as session:
            # Read, then talk to ResMan with no transaction open, then write: a slow or
            # hanging ResMan must never hold database locks (SQLite has only one).
            await begin_read(session)
            target = await self.targets.get(session, integration_id=integration_id)
            plan = await plan_push(
                session,
                conversation_id=job.conversation_id,
                integration_id=integration_id,
                job=run.payload,
                seq=job.seq,
            )
            await session.commit()
            if plan.wait_for is not None:
                return await self._wait_for_sibling(session, job)
            sent = await send_push(plan=plan, target=target)
            result = sent.result
            async with session.begin():
                await self._mark_done(session, job, resman_lead_id=result.prospect_id)
                await record_push(session, plan=plan, sent=sent, integration_id=integration_id)
                await self._sent(
                    session,
                    job,
                    integration_id,
                    sync_type=run.payload.sync_type,
                    resman_lead_id=result.prospect_id,
                    details={"action": result.action},
                    started=run.started,
                )
                await self.circuits.settle(session, integration_id, attempt=attempt)
        return Outcome(job.id, "succeeded", resman_lead_id=result.prospect_id)

    async def _wait_for_sibling(self, session: AsyncSession, job: ClaimedJob) -> Outcome:
        """Another chat of the same new person is being created first: look again shortly,
        without a ResMan call and without spending a retry (then this one links to it)."""
        async with session.begin():
            owned = await queue.schedule_retry(
                session,
                job_id=job.id,
                worker_id=self.worker_id,
                delay=SIBLING_WAIT_SECONDS * (1 + self._rng.random()),
                error="[waiting] a chat of the same person is being created first",
                category="waiting",
                count_retry=False,
            )
        return Outcome(job.id, "retry" if owned else "lost")

    async def _run_retire(self, run: _Run) -> Outcome:
        """Mark a prospect a merge made surplus lost (see sync/push/retire.py)."""
        job, integration_id, attempt = run.job, run.integration_id, run.attempt
        if not isinstance(run.payload, RetireJob):
            raise TypeError("the retire handler got another job")
        async with self.sessionmaker() as session:
            await begin_read(session)
            target = await self.targets.get(session, integration_id=integration_id)
            await session.commit()
            prospect_id = await send_retire(job=run.payload, target=target)
            async with session.begin():
                await self._mark_done(session, job, resman_lead_id=prospect_id)
                await self._sent(
                    session,
                    job,
                    integration_id,
                    sync_type="status_change",
                    resman_lead_id=prospect_id,
                    details={
                        "action": "retired",
                        "prospect_id": run.payload.prospect_id,
                        "person_id": run.payload.person_id,
                        "merged_into": run.payload.merged_into,
                    },
                    started=run.started,
                )
                await self.circuits.settle(session, integration_id, attempt=attempt)
        return Outcome(job.id, "succeeded", resman_lead_id=prospect_id)

    async def _run_transcript(self, run: _Run) -> Outcome:
        """Post a batch of chat lines (see sync/push/transcript.py)."""
        job, integration_id, payload = run.job, run.integration_id, run.payload
        if not isinstance(payload, TranscriptJob):
            raise TypeError("the transcript handler got another job")
        async with self.sessionmaker() as session:
            await begin_read(session)
            target = await self.targets.get(session, integration_id=integration_id)
            await session.commit()
            async with session.begin():
                plan = await plan_transcript(
                    session,
                    job_id=job.id,
                    conversation_id=job.conversation_id,
                    integration_id=integration_id,
                    job=payload,
                    now=utcnow(),
                )
                if plan is None:
                    # Not in ResMan yet: wait for the create, without spending a retry.
                    owned = await queue.schedule_retry(
                        session,
                        job_id=job.id,
                        worker_id=self.worker_id,
                        delay=max(payload.window_seconds, WAIT_FOR_LINK_SECONDS),
                        error="[waiting] the lead is not in ResMan yet",
                        category="waiting",
                        count_retry=False,
                    )
                    return Outcome(job.id, "retry" if owned else "lost")
            sent = await send_transcript(plan=plan, target=target)
            prospect_id = plan.ids.prospect_id
            async with session.begin():
                await self._mark_done(session, job, resman_lead_id=prospect_id)
                await record_transcript(
                    session, job_id=job.id, plan=plan, integration_id=integration_id, now=utcnow()
                )
                await self._sent(
                    session,
                    job,
                    integration_id,
                    sync_type=payload.sync_type,
                    resman_lead_id=prospect_id,
                    details=sent.details(plan),
                    started=run.started,
                )
                await self.circuits.settle(session, integration_id, attempt=run.attempt)
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
        """Log a job that reached ResMan (push or retire)."""
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

    async def _run_refresh(self, run: _Run) -> Outcome:
        """A webhook (or any trigger) asked us to fetch one prospect's current state."""
        job, integration_id, attempt = run.job, run.integration_id, run.attempt
        if not isinstance(run.payload, RefreshJob):
            raise TypeError("the refresh handler got another job")
        async with self.sessionmaker() as session:
            await begin_read(session)
            target = await self.targets.get(session, integration_id=integration_id, needs="pull")
            integration = await session.get(ResmanIntegration, integration_id)
            await session.commit()
            if integration is None:
                raise IntegrationNotFoundError(str(integration_id))
            state = await process_inbox_job(
                session,
                job=run.payload,
                integration=integration,
                client=target.client,
                creds=target.creds,
                own_source=target.transaction_source,
            )
            # The apply's writes and the job's success commit together.
            await self._mark_done(session, job, resman_lead_id=None)
            await self.circuits.settle(session, integration_id, attempt=attempt)
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


class _LeaseLostError(Exception):
    pass


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
