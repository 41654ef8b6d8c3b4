"""The job runner's circuit breakers: the gate before a job calls ResMan, and the settling of
the breaker after it (see ``breaker`` for the state machine, ``circuit_store`` for the shared
half in the database)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.resman.outcomes import CallTally
from leadsync.sync.queue import circuit_store
from leadsync.sync.queue.breaker import BreakerSettings, CircuitBreaker, CircuitState, state_at
from leadsync.telemetry.logging import get_logger
from leadsync.telemetry.metrics import CIRCUIT_OPENED

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Gate:
    """May this job call ResMan now? ``trial_until`` is set when it carries the half-open
    trial; ``open_until`` when the circuit keeps it waiting."""

    allowed: bool
    trial_until: datetime | None = None
    open_until: datetime | None = None


@dataclass(slots=True)
class Attempt:
    """One run of a job: its gate and the ResMan calls it made."""

    gate: Gate = field(default_factory=lambda: Gate(allowed=True))
    calls: CallTally = field(default_factory=CallTally)
    #: The cool-down decided when one of these calls tripped the breaker.
    tripped: float | None = None


class Circuits:
    """This process's breakers, one per integration."""

    def __init__(self, settings: BreakerSettings) -> None:
        self.settings = settings
        self._breakers: dict[uuid.UUID, CircuitBreaker] = {}

    def breaker(self, integration_id: uuid.UUID) -> CircuitBreaker:
        if integration_id not in self._breakers:
            self._breakers[integration_id] = CircuitBreaker(self.settings)
        return self._breakers[integration_id]

    async def gate(
        self, sessionmaker: async_sessionmaker[AsyncSession], integration_id: uuid.UUID
    ) -> Gate:
        """Consult the shared circuit; in half-open, try to take the one trial."""
        async with read_session(sessionmaker) as session:
            until = await circuit_store.open_until(session, integration_id=integration_id)
        now = utcnow()
        state = state_at(None if until is None else until.timestamp(), now.timestamp())
        if state is CircuitState.CLOSED:
            return Gate(allowed=True)
        if state is CircuitState.OPEN:
            return Gate(allowed=False, open_until=until)
        trial_until = now + timedelta(seconds=self.settings.trial_seconds)
        async with sessionmaker() as session, session.begin():
            won = await circuit_store.begin_trial(
                session, integration_id=integration_id, now=now, trial_until=trial_until
            )
        if won:
            log.info("circuit half-open: trial call", integration_id=str(integration_id))
            return Gate(allowed=True, trial_until=trial_until)
        return Gate(allowed=False, open_until=trial_until)

    def window(self, integration_id: uuid.UUID, attempt: Attempt) -> Callable[[bool], None]:
        """The per-call hook that feeds the window (``CallTally.on_call``)."""
        breaker = self.breaker(integration_id)

        def record(failed: bool) -> None:
            cooldown = breaker.record(
                now=time.monotonic(), successes=int(not failed), failures=int(failed)
            )
            if cooldown is not None:
                attempt.tripped = max(cooldown, attempt.tripped or 0.0)

        return record

    async def settle(
        self,
        session: AsyncSession,
        integration_id: uuid.UUID,
        *,
        attempt: Attempt,
        pause_for: float | None = None,
    ) -> datetime | None:
        """After a job's ResMan calls: open or close the shared circuit as they say.
        Returns the open-until time in force when they opened it."""
        if attempt.gate.trial_until is not None:
            return await self._end_trial(
                session, integration_id, attempt=attempt, pause_for=pause_for
            )
        pauses = [s for s in (attempt.tripped, pause_for) if s is not None]
        if not pauses:
            return None
        reason = "failure_rate" if attempt.tripped is not None else "paused"
        until = utcnow() + timedelta(seconds=max(pauses))
        in_force = await circuit_store.open_circuit(
            session, integration_id=integration_id, until=until
        )
        _opened(integration_id, reason=reason, seconds=max(pauses))
        return in_force

    async def _end_trial(
        self,
        session: AsyncSession,
        integration_id: uuid.UUID,
        *,
        attempt: Attempt,
        pause_for: float | None,
    ) -> datetime | None:
        """The half-open trial's verdict. One answer from ResMan closes the circuit at once
        (under partial faults a later call of the same job may still fail: that is the rate
        window's business, not a sign that ResMan is down); no answer at all, or a 429,
        re-opens it for the next cool-down; a job that made no call hands the trial back."""
        trial_until = attempt.gate.trial_until
        assert trial_until is not None
        breaker, now = self.breaker(integration_id), utcnow()
        calls = attempt.calls
        if pause_for is None and calls.answered:
            breaker.closed()
            if await circuit_store.end_trial(
                session, integration_id=integration_id, trial_until=trial_until, until=None
            ):
                log.info("circuit closed", integration_id=str(integration_id))
            return None
        if pause_for is None and not calls.failed:
            await circuit_store.end_trial(
                session, integration_id=integration_id, trial_until=trial_until, until=now
            )
            return None
        seconds = max(breaker.trip(), pause_for or 0.0)
        until = now + timedelta(seconds=seconds)
        if not await circuit_store.end_trial(
            session, integration_id=integration_id, trial_until=trial_until, until=until
        ):
            # Someone opened it further meanwhile: keep the later time.
            until = (
                await circuit_store.open_circuit(
                    session, integration_id=integration_id, until=until
                )
                or until
            )
        _opened(integration_id, reason="trial_failed", seconds=seconds)
        return until


def _opened(integration_id: uuid.UUID, *, reason: str, seconds: float) -> None:
    CIRCUIT_OPENED.labels(reason=reason).inc()
    log.warning(
        "circuit opened",
        integration_id=str(integration_id),
        reason=reason,
        seconds=round(seconds, 3),
    )
