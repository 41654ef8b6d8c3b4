"""Nothing lost, nothing duplicated: kill switch, crash windows, competing workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from leadsync.db.models import LeadLink
from leadsync.db.types import utcnow
from leadsync.runtime import Runtime
from leadsync.sync.push.record import push_lead
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.flags import set_push_paused
from stack import Stack, claim_behind_the_switch, lead_body, wait_until


async def _pause(stack: Stack, paused: bool) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=paused, changed_by="test")


async def _counts(stack: Stack) -> dict[str, int]:
    async with stack.runtime.sessionmaker() as session:
        return await queue.counts_by_state(session)


async def test_kill_switch_stores_and_queues_then_drains(stack: Stack) -> None:
    await _pause(stack, True)
    bodies = [lead_body(stack.a.property_id, n=n) for n in range(5)]
    for body in bodies:
        response = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
        assert response.status_code == 201
        assert response.json()["sync_status"] == "pending"
        assert response.json()["resman_lead_id"] is None
    assert (await _counts(stack)).get("queued") == 5
    assert await stack.resman_prospects(stack.a) == []
    await _pause(stack, False)
    stack.runtime.worker.wake()

    async def drained() -> bool:
        return (await _counts(stack)).get("succeeded") == 5

    await wait_until(drained)
    assert len(await stack.resman_prospects(stack.a)) == 5


async def test_crash_after_resman_accepted_before_commit_makes_no_duplicate(
    stack: Stack,
) -> None:
    await _pause(stack, True)
    body = lead_body(stack.a.property_id)
    await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    runner = stack.runtime.runner
    job = await claim_behind_the_switch(stack, worker_id="doomed", lease=timedelta(seconds=5))
    # The doomed worker pushes, ResMan accepts, and the process dies before its commit.
    async with stack.runtime.sessionmaker() as session:
        async with session.begin():
            target = await runner.targets.get(session, integration_id=stack.a.integration_id)
        await session.begin()
        await push_lead(session, job=job, target=target)
        await session.rollback()
    assert len(await stack.resman_prospects(stack.a)) == 1
    # Its lease runs out; another worker takes the job over and finishes it.
    again = await claim_behind_the_switch(
        stack,
        worker_id=runner.worker_id,
        lease=timedelta(seconds=30),
        now=utcnow() + timedelta(seconds=6),
    )
    outcome = await runner.run(again)
    assert outcome.state == "succeeded"
    [prospect] = await stack.resman_prospects(stack.a)
    assert outcome.resman_lead_id == prospect["prospect_id"]
    async with stack.runtime.sessionmaker() as session:
        link = await session.scalar(select(LeadLink))
    assert link is not None
    assert link.resman_prospect_id == prospect["prospect_id"]


@pytest.mark.parametrize("migrated_db_url", ["postgres"], indirect=True)
async def test_two_workers_keep_per_lead_order_without_duplicates(stack: Stack) -> None:
    second = Runtime.build(stack.runtime.settings)
    second.start_worker()
    try:
        await _pause(stack, True)
        leads: list[tuple[str, str]] = []
        for n in range(12):
            created = await stack.api.post(
                "/api/resman/leads",
                json=lead_body(stack.a.property_id, n=n),
                headers=stack.auth(stack.a),
            )
            conversation_id = created.json()["conversation_id"]
            last = ""
            for step in range(3):
                last = f"(737) 555-{n:02d}{step:02d}"
                patched = await stack.api.patch(
                    f"/api/resman/leads/{conversation_id}",
                    json={"phone": last},
                    headers=stack.auth(stack.a),
                )
                assert patched.status_code == 200
            leads.append((f"maria.gomez{n:03d}@gmail.com", last))
        await _pause(stack, False)
        stack.runtime.worker.wake()
        second.worker.wake()

        async def drained() -> bool:
            counts = await _counts(stack)
            return counts.get("succeeded") == 48

        await wait_until(drained)
        prospects = await stack.resman_prospects(stack.a)
        assert len(prospects) == 12
        by_email = {str(p["email"]): str(p["phone"]) for p in prospects}
        for email, last_phone in leads:
            digits = "".join(c for c in last_phone if c.isdigit())
            assert by_email[email].endswith(digits), "an older update overwrote a newer one"
    finally:
        await second.close()
