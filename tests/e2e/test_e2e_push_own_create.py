"""A create that ResMan accepted while leadsync never learned it (the process died, or the
answer timed out) is found again by the retry. If the chatbot changed the lead in between,
the change still reaches ResMan: the retry's base snapshot is what ResMan holds (the earlier
attempt's values), not our newer ones — else the next merge took ResMan's stale values for
office edits and overwrote the chatbot's acknowledged change (found by tests/chaos)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from leadsync.db.models import Conversation
from leadsync.db.types import utcnow
from leadsync.sync.push.record import push_lead
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.flags import set_push_paused
from stack import Stack, claim_behind_the_switch, lead_body, wait_until


async def _drained(stack: Stack) -> bool:
    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return counts.get("queued", 0) == 0 and counts.get("running", 0) == 0


async def test_change_between_a_lost_create_and_its_retry_reaches_resman(stack: Stack) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=True, changed_by="test")
    body = lead_body(stack.a.property_id)
    created = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert created.status_code == 201, created.text
    conversation_id = created.json()["conversation_id"]

    # A worker posts the lead; ResMan accepts it; the worker dies before its commit.
    runner = stack.runtime.runner
    job = await claim_behind_the_switch(stack, worker_id="doomed", lease=timedelta(seconds=5))
    async with stack.runtime.sessionmaker() as session:
        async with session.begin():
            target = await runner.targets.get(session, integration_id=stack.a.integration_id)
        await session.begin()
        await push_lead(session, job=job, target=target)
        await session.rollback()
    # The chatbot changes the lead (acknowledged), then the create is retried.
    patched = await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"last_name": "Gomez-Ruiz"},
        headers=stack.auth(stack.a),
    )
    assert patched.status_code == 200, patched.text
    again = await claim_behind_the_switch(
        stack,
        worker_id=runner.worker_id,
        lease=timedelta(seconds=30),
        now=utcnow() + timedelta(seconds=6),
    )
    assert (await runner.run(again)).state == "succeeded"
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=False, changed_by="test")
    await wait_until(lambda: _drained(stack))

    [prospect] = await stack.resman_prospects(stack.a)
    assert prospect["last_name"] == "Gomez-Ruiz"
    async with stack.runtime.sessionmaker() as session:
        conv = await session.scalar(
            select(Conversation).where(Conversation.id == uuid.UUID(conversation_id))
        )
        assert conv is not None
        assert conv.last_name == "Gomez-Ruiz"
