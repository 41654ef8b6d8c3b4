"""The pull locks (in-process on SQLite, advisory on PostgreSQL) and which integrations the
scheduler polls, on real databases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from factories import make_integration, make_property
from leadsync.db.types import utcnow
from leadsync.resman.interface import ResManAPI
from leadsync.sync.pull.scheduler import PullBusyError, PullLocks, PullScheduler, advisory_key
from leadsync.sync.queue.targets import TargetCache


def _unreachable_targets() -> TargetCache:
    """The lock and the due list never resolve a target; a call would be a bug."""

    def refuse_open(envelope: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("credentials opened")

    def refuse_client(base_url: str) -> ResManAPI:
        raise AssertionError("client built")

    return TargetCache(open_credentials=refuse_open, client_for=refuse_client)


async def test_lock_is_exclusive_per_integration_and_released(engine: AsyncEngine) -> None:
    locks = PullLocks(engine)
    one, two = uuid.uuid4(), uuid.uuid4()
    async with locks.hold(one) as first:
        assert first
        async with locks.hold(one) as second:
            assert not second
        async with locks.hold(two) as other:
            assert other  # another integration is independent
    async with locks.hold(one) as again:
        assert again


async def test_lock_is_released_when_the_body_fails_or_is_cancelled(engine: AsyncEngine) -> None:
    locks = PullLocks(engine)
    integration_id = uuid.uuid4()

    async def failing_pull() -> None:
        async with locks.hold(integration_id) as held:
            assert held
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await failing_pull()
    entered = asyncio.Event()

    async def hold_forever() -> None:
        async with locks.hold(integration_id) as held:
            assert held
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold_forever())
    await entered.wait()
    async with locks.hold(integration_id) as taken:
        assert not taken
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with locks.hold(integration_id) as free:
        assert free


async def test_a_waiting_pull_gets_the_lock_when_the_running_one_ends(engine: AsyncEngine) -> None:
    locks = PullLocks(engine)
    integration_id = uuid.uuid4()
    release = asyncio.Event()
    holding = asyncio.Event()

    async def running_pull() -> None:
        async with locks.hold(integration_id) as held:
            assert held
            holding.set()
            await release.wait()

    async def waiting_pull() -> bool:
        async with locks.hold(integration_id, wait=60) as held:
            return held

    running = asyncio.create_task(running_pull())
    await holding.wait()
    waiting = asyncio.create_task(waiting_pull())
    await asyncio.sleep(0.3)  # let it find the lock taken and start waiting
    assert not waiting.done()
    release.set()
    assert await waiting
    await running


async def test_advisory_lock_is_seen_by_every_connection(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    locks = PullLocks(engine)
    integration_id = uuid.uuid4()
    key = advisory_key(integration_id)
    async with engine.connect() as other:
        async with locks.hold(integration_id) as held:
            assert held
            assert await other.scalar(select(func.pg_try_advisory_lock(key))) is False
        # Released with its transaction, not leaked into the pool.
        assert await other.scalar(select(func.pg_try_advisory_lock(key))) is True
        async with locks.hold(integration_id) as blocked:
            assert not blocked  # `other` holds it now, as another instance would
        await other.scalar(select(func.pg_advisory_unlock(key)))
        await other.commit()


async def test_pull_now_refuses_while_another_pull_runs(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    scheduler = PullScheduler(sessionmaker=session_factory, targets=_unreachable_targets())
    integration_id = uuid.uuid4()
    async with scheduler.locks.hold(integration_id) as held:
        assert held
        with pytest.raises(PullBusyError):
            await scheduler.pull_now(integration_id=integration_id, wait=0)


async def test_due_integrations_skip_disabled_push_only_and_open_circuits(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with session_factory() as session, session.begin():

        async def integration(**values: Any) -> uuid.UUID:
            prop = await make_property(session)
            row = await make_integration(session, property_id=prop.id)
            for name, value in values.items():
                setattr(row, name, value)
            await session.flush()
            return row.id

        due = {
            await integration(),
            await integration(sync_direction="from_resman"),
            await integration(circuit_open_until=now - timedelta(seconds=1)),
        }
        await integration(sync_enabled=False)
        await integration(sync_direction="to_resman")
        await integration(circuit_open_until=now + timedelta(minutes=1))
    scheduler = PullScheduler(sessionmaker=session_factory, targets=_unreachable_targets())
    assert set(await scheduler.due_integrations(now=now)) == due


def test_scheduler_refuses_nonsense_settings(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    for bad in ({"interval": 0}, {"jitter": 1.0}, {"concurrency": 0}):
        with pytest.raises(ValueError, match="interval"):
            PullScheduler(sessionmaker=session_factory, targets=_unreachable_targets(), **bad)
