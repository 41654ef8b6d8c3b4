"""The shared circuit state on SQLite and PostgreSQL: forward-only, one trial, safe close."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import make_integration, make_property
from leadsync.db.models import ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.sync.queue import circuit_store

Sessions = async_sessionmaker[AsyncSession]


async def _integration(session_factory: Sessions) -> uuid.UUID:
    async with session_factory() as session, session.begin():
        prop = await make_property(session)
        return (await make_integration(session, property_id=prop.id)).id


async def _open(session_factory: Sessions, integration_id: uuid.UUID, seconds: float) -> None:
    async with session_factory() as session, session.begin():
        await circuit_store.open_circuit(
            session,
            integration_id=integration_id,
            until=utcnow() + timedelta(seconds=seconds),
        )


async def _read(session_factory: Sessions, integration_id: uuid.UUID) -> object:
    async with session_factory() as session:
        return await circuit_store.open_until(session, integration_id=integration_id)


async def test_a_short_pause_never_overwrites_a_long_one(session_factory: Sessions) -> None:
    integration_id = await _integration(session_factory)
    before = utcnow()
    await _open(session_factory, integration_id, 300)
    long_until = await _read(session_factory, integration_id)
    # Last write used to win: a 10 s pause a second later cut a 300 s one short.
    await _open(session_factory, integration_id, 10)
    assert await _read(session_factory, integration_id) == long_until
    await _open(session_factory, integration_id, 600)
    later = await _read(session_factory, integration_id)
    assert isinstance(later, type(before))
    assert later >= before + timedelta(seconds=599)


async def test_concurrent_openings_keep_the_latest(session_factory: Sessions) -> None:
    integration_id = await _integration(session_factory)
    seconds = [5, 300, 10, 120, 1, 60]
    await asyncio.gather(*(_open(session_factory, integration_id, s) for s in seconds))
    until = await _read(session_factory, integration_id)
    assert isinstance(until, type(utcnow()))
    assert until > utcnow() + timedelta(seconds=200)


async def _try_trial(session_factory: Sessions, integration_id: uuid.UUID) -> bool:
    now = utcnow()
    async with session_factory() as session, session.begin():
        return await circuit_store.begin_trial(
            session, integration_id=integration_id, now=now, trial_until=now + timedelta(seconds=30)
        )


async def test_exactly_one_worker_takes_the_half_open_trial(session_factory: Sessions) -> None:
    integration_id = await _integration(session_factory)
    assert not await _try_trial(session_factory, integration_id), "closed: no trial needed"
    await _open(session_factory, integration_id, 300)
    assert not await _try_trial(session_factory, integration_id), "open: no trial yet"
    async with session_factory() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            .values(circuit_open_until=utcnow() - timedelta(seconds=1))
        )
    won = await asyncio.gather(*(_try_trial(session_factory, integration_id) for _ in range(8)))
    assert sorted(won) == [False] * 7 + [True]


async def _take_trial(
    session_factory: Sessions, integration_id: uuid.UUID, *, now: datetime, trial_until: datetime
) -> None:
    """Make the circuit half-open (a passed open-until time), then take its trial."""
    async with session_factory() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            .values(circuit_open_until=now - timedelta(seconds=1))
        )
        assert await circuit_store.begin_trial(
            session, integration_id=integration_id, now=now, trial_until=trial_until
        )


async def test_a_trial_closes_only_what_it_opened(session_factory: Sessions) -> None:
    integration_id = await _integration(session_factory)
    now = utcnow()
    trial_until = now + timedelta(seconds=30)
    await _take_trial(session_factory, integration_id, now=now, trial_until=trial_until)
    # Meanwhile another worker saw ResMan throttle and opened the circuit further.
    await _open(session_factory, integration_id, 120)
    async with session_factory() as session, session.begin():
        closed = await circuit_store.end_trial(
            session, integration_id=integration_id, trial_until=trial_until, until=None
        )
    assert not closed
    assert await _read(session_factory, integration_id) is not None

    other = await _integration(session_factory)
    await _take_trial(session_factory, other, now=now, trial_until=trial_until)
    async with session_factory() as session, session.begin():
        assert await circuit_store.end_trial(
            session, integration_id=other, trial_until=trial_until, until=None
        )
    assert await _read(session_factory, other) is None


async def test_a_failed_trial_cools_down_for_less_than_the_trials_own_time(
    session_factory: Sessions,
) -> None:
    # The trial's own time (30 s) only bounds a trial whose worker died. A failed trial sets
    # the next cool-down even when it ends sooner; a forward-only open would have kept the
    # circuit shut for the rest of the 30 s (issue 12's fault run: one trial per 30 s).
    integration_id = await _integration(session_factory)
    now = utcnow()
    trial_until = now + timedelta(seconds=30)
    await _take_trial(session_factory, integration_id, now=now, trial_until=trial_until)
    async with session_factory() as session, session.begin():
        cool_down = now + timedelta(seconds=2)
        assert await circuit_store.end_trial(
            session, integration_id=integration_id, trial_until=trial_until, until=cool_down
        )
    assert await _read(session_factory, integration_id) == cool_down
