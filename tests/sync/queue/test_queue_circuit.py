"""The half-open trial's verdict (sync/queue/circuit.py) on SQLite and PostgreSQL: one answer
closes at once, no answer re-opens for the cool-down (not for the trial's own 30 s), and a
trial that made no call hands the trial back."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import make_integration, make_property
from leadsync.db.models import ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.resman.outcomes import CallTally
from leadsync.sync.queue import circuit_store
from leadsync.sync.queue.breaker import BreakerSettings
from leadsync.sync.queue.circuit import Attempt, Circuits, Gate

Sessions = async_sessionmaker[AsyncSession]
SETTINGS = BreakerSettings(open_seconds=2.0, open_max_seconds=8.0, trial_seconds=30.0)


async def _half_open(session_factory: Sessions) -> uuid.UUID:
    async with session_factory() as session, session.begin():
        prop = await make_property(session)
        integration_id = (await make_integration(session, property_id=prop.id)).id
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            .values(circuit_open_until=utcnow() - timedelta(seconds=1))
        )
    return integration_id


async def _trial(
    session_factory: Sessions, circuits: Circuits, *, answered: int, failed: int
) -> tuple[uuid.UUID, datetime | None, datetime]:
    """Take the trial, make its calls, settle; the open-until time then and the trial's."""
    integration_id = await _half_open(session_factory)
    gate = await circuits.gate(session_factory, integration_id)
    assert gate.allowed
    assert gate.trial_until is not None
    # While it runs, the circuit is held for the trial (another job waits).
    assert not (await circuits.gate(session_factory, integration_id)).allowed
    attempt = Attempt(gate=gate, calls=CallTally(answered=answered, failed=failed))
    async with session_factory() as session, session.begin():
        await circuits.settle(session, integration_id, attempt=attempt)
    async with session_factory() as session:
        until = await circuit_store.open_until(session, integration_id=integration_id)
    return integration_id, until, gate.trial_until


async def test_one_answer_closes_the_circuit_even_if_a_later_call_failed(
    session_factory: Sessions,
) -> None:
    circuits = Circuits(SETTINGS)
    integration_id, until, _ = await _trial(session_factory, circuits, answered=1, failed=1)
    assert until is None
    assert (await circuits.gate(session_factory, integration_id)) == Gate(allowed=True)


async def test_a_trial_without_an_answer_reopens_for_the_cool_down_only(
    session_factory: Sessions,
) -> None:
    circuits = Circuits(SETTINGS)
    before = utcnow()
    _, until, trial_until = await _trial(session_factory, circuits, answered=0, failed=1)
    assert until is not None
    # The first cool-down (2 s), well before the trial's own 30 s.
    assert before + timedelta(seconds=2) <= until < trial_until
    assert until <= utcnow() + timedelta(seconds=2)


async def test_a_trial_that_made_no_call_hands_the_trial_back(
    session_factory: Sessions,
) -> None:
    circuits = Circuits(SETTINGS)
    integration_id, until, _ = await _trial(session_factory, circuits, answered=0, failed=0)
    assert until is not None
    assert until <= utcnow()  # half-open again: the next job takes the trial at once
    gate = await circuits.gate(session_factory, integration_id)
    assert gate.allowed
    assert gate.trial_until is not None
