"""The queue on real SQLite and PostgreSQL: per-lead order, leases, retries, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import make_integration, make_property
from leadsync.db.models import LeadSyncQueue, ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.sync.queue import repository as queue

LEASE = timedelta(seconds=30)


async def _setup(
    factory: async_sessionmaker[AsyncSession], *, leads: int, jobs_per_lead: int
) -> tuple[uuid.UUID, list[list[uuid.UUID]]]:
    async with factory() as session, session.begin():
        prop = await make_property(session)
        integration = await make_integration(session, property_id=prop.id)
        per_lead: list[list[uuid.UUID]] = []
        for _ in range(leads):
            key = str(uuid.uuid4())
            ids = []
            for n in range(jobs_per_lead):
                job_id = await queue.enqueue(
                    session,
                    integration_id=integration.id,
                    conversation_id=None,
                    lead_key=key,
                    operation="push",
                    data={"n": n},
                )
                ids.append(job_id)
            per_lead.append(ids)
    return integration.id, per_lead


async def _claim(
    factory: async_sessionmaker[AsyncSession], worker: str, limit: int = 50, **kw: object
) -> list[queue.ClaimedJob]:
    async with factory() as session, session.begin():
        return await queue.claim(session, worker_id=worker, limit=limit, lease=LEASE, **kw)  # type: ignore[arg-type]


async def test_only_the_head_of_each_lead_is_claimable(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    _, per_lead = await _setup(session_factory, leads=3, jobs_per_lead=3)
    first = await _claim(session_factory, "w1")
    assert sorted(j.id for j in first) == sorted(ids[0] for ids in per_lead)
    # Nothing else is due while the heads run.
    assert await _claim(session_factory, "w2") == []
    async with session_factory() as session, session.begin():
        for job in first:
            assert await queue.mark_succeeded(
                session, job_id=job.id, worker_id="w1", resman_lead_id="P"
            )
    second = await _claim(session_factory, "w2")
    assert sorted(j.id for j in second) == sorted(ids[1] for ids in per_lead)


async def test_settling_needs_the_lease(session_factory: async_sessionmaker[AsyncSession]) -> None:
    _, per_lead = await _setup(session_factory, leads=1, jobs_per_lead=1)
    [job] = await _claim(session_factory, "w1")
    async with session_factory() as session, session.begin():
        assert not await queue.mark_succeeded(
            session, job_id=job.id, worker_id="intruder", resman_lead_id=None
        )
    async with session_factory() as session:
        assert await queue.job_state(session, job_id=per_lead[0][0]) == "running"


async def test_expired_lease_is_taken_over(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    _, per_lead = await _setup(session_factory, leads=1, jobs_per_lead=2)
    [job] = await _claim(session_factory, "dead-worker")
    assert await _claim(session_factory, "w2") == []
    later = utcnow() + LEASE + timedelta(seconds=1)
    taken = await _claim(session_factory, "w2", now=later)
    assert [j.id for j in taken] == [job.id]
    assert taken[0].attempts == 2
    # The dead worker can no longer settle it; the new owner can.
    async with session_factory() as session, session.begin():
        assert not await queue.bury(
            session, job_id=job.id, worker_id="dead-worker", error="x", category="c"
        )
        assert await queue.mark_succeeded(
            session, job_id=job.id, worker_id="w2", resman_lead_id=None
        )
    assert [j.id for j in await _claim(session_factory, "w2")] == [per_lead[0][1]]


async def test_retry_waits_and_counts_only_when_asked(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _setup(session_factory, leads=1, jobs_per_lead=1)
    [job] = await _claim(session_factory, "w1")
    async with session_factory() as session, session.begin():
        await queue.schedule_retry(
            session,
            job_id=job.id,
            worker_id="w1",
            delay=60,
            error="boom",
            category="transient",
            count_retry=False,
        )
    assert await _claim(session_factory, "w1") == []
    [again] = await _claim(session_factory, "w1", now=utcnow() + timedelta(seconds=61))
    assert again.retry_count == 0
    async with session_factory() as session, session.begin():
        await queue.schedule_retry(
            session,
            job_id=job.id,
            worker_id="w1",
            delay=0,
            error="boom",
            category="transient",
            count_retry=True,
        )
    [third] = await _claim(session_factory, "w1", now=utcnow() + timedelta(seconds=1))
    assert third.retry_count == 1


async def test_dead_letters_are_listed_and_replayed(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _setup(session_factory, leads=1, jobs_per_lead=1)
    [job] = await _claim(session_factory, "w1")
    async with session_factory() as session, session.begin():
        await queue.bury(
            session,
            job_id=job.id,
            worker_id="w1",
            error="Transaction Source could not be found",
            category="transaction_source",
        )
    async with session_factory() as session:
        dead = await queue.list_jobs(session, state="dead")
        assert [(d.id, d.error_category) for d in dead] == [(job.id, "transaction_source")]
    assert await _claim(session_factory, "w1") == []
    async with session_factory() as session, session.begin():
        assert await queue.replay(session, job_ids=[job.id]) == [job.id]
    assert [j.id for j in await _claim(session_factory, "w1")] == [job.id]


async def test_paused_or_disabled_integrations_hold_their_jobs(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    integration_id, _ = await _setup(session_factory, leads=2, jobs_per_lead=1)
    async with session_factory() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            .values(circuit_open_until=utcnow() + timedelta(minutes=1))
        )
    assert await _claim(session_factory, "w1") == []
    async with session_factory() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            .values(circuit_open_until=None, sync_enabled=False)
        )
    assert await _claim(session_factory, "w1") == []
    async with session_factory() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == integration_id)
            .values(sync_enabled=True)
        )
    assert len(await _claim(session_factory, "w1")) == 2


@pytest.mark.parametrize("migrated_db_url", ["postgres"], indirect=True)
async def test_concurrent_claimers_never_share_a_job_or_break_lead_order(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Many claimers at once on PostgreSQL (SKIP LOCKED): each job is claimed by exactly one,
    and no two jobs of one lead are ever running together."""
    _, per_lead = await _setup(session_factory, leads=20, jobs_per_lead=3)
    order = {job_id: n for ids in per_lead for n, job_id in enumerate(ids)}
    done: list[uuid.UUID] = []

    async def worker(name: str) -> None:
        idle = 0
        while idle < 5:
            jobs = await _claim(session_factory, name, limit=4)
            if not jobs:
                idle += 1
                await asyncio.sleep(0.01)
                continue
            idle = 0
            async with session_factory() as session, session.begin():
                running = await session.scalars(
                    select(LeadSyncQueue.lead_key).where(LeadSyncQueue.state == "running")
                )
                keys = list(running)
                assert len(keys) == len(set(keys)), "two jobs of one lead running together"
                for job in jobs:
                    assert await queue.mark_succeeded(
                        session, job_id=job.id, worker_id=name, resman_lead_id=None
                    )
                    done.append(job.id)

    await asyncio.gather(*(worker(f"w{n}") for n in range(6)))
    assert sorted(done) == sorted(order)
    assert len(done) == len(set(done))
    for ids in per_lead:
        positions = [done.index(i) for i in ids]
        assert positions == sorted(positions)


async def test_pull_only_integration_holds_pushes_but_runs_refreshes(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        prop = await make_property(session)
        integration = await make_integration(session, property_id=prop.id)
        integration.sync_direction = "from_resman"
        push = await queue.enqueue(
            session,
            integration_id=integration.id,
            conversation_id=None,
            lead_key="lead-a",
            operation="push",
            data={},
        )
        refresh = await queue.enqueue(
            session,
            integration_id=integration.id,
            conversation_id=None,
            lead_key="resman:P-9",
            operation="pull",
            data={"kind": "refresh", "prospect_id": "P-9"},
        )
    claimed = [j.id for j in await _claim(session_factory, "w1")]
    assert claimed == [refresh]
    assert push not in claimed


async def test_kill_switch_is_honoured_by_the_claim_itself(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Pausing from another process takes effect at once, whatever a cache in this process
    still believes: the claim statement reads the switch. Refresh jobs are not pushes and
    keep running."""
    from leadsync.db.models import AppSetting
    from leadsync.sync.queue import flags

    integration_id, per_lead = await _setup(session_factory, leads=2, jobs_per_lead=1)
    async with session_factory() as session, session.begin():
        assert await flags.push_paused(session) is False  # this process caches "running"
        refresh = await queue.enqueue(
            session,
            integration_id=integration_id,
            conversation_id=None,
            lead_key="refresh-key",
            operation="pull",
            data={},
        )
        # Another instance pauses: it writes the row; our cache is not told.
        session.add(AppSetting(key=flags.KILL_SWITCH, value=True, changed_by="other"))
    async with session_factory() as session:
        assert await flags.push_paused(session) is False  # stale, as in a second process
    claimed = await _claim(session_factory, "w1")
    assert [j.id for j in claimed] == [refresh]
    async with session_factory() as session, session.begin():
        await flags.set_push_paused(session, paused=False, changed_by="other")
    resumed = await _claim(session_factory, "w1")
    assert sorted(j.id for j in resumed) == sorted(ids[0] for ids in per_lead)
