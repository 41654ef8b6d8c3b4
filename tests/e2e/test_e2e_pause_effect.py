"""`leadsync sync pause` takes effect for every request after it returns, even in an API
process whose cached copy of the switch still says "running" (the pause came from another
process: the CLI, another instance)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from leadsync.db.models import AppSetting, LeadSyncQueue
from leadsync.db.session import read_session
from leadsync.sync.queue.flags import KILL_SWITCH, push_paused
from stack import Stack, create_synced_lead, lead_body, synced_prospect, wait_until


async def test_a_pause_from_another_process_stops_the_very_next_push(stack: Stack) -> None:
    # This process has read the switch as "running" and caches that.
    await create_synced_lead(stack, stack.a, lead_body(stack.a.property_id, n=1))
    async with read_session(stack.runtime.sessionmaker) as session:
        assert await push_paused(session) is False
    before = len(await stack.resman_prospects(stack.a))
    # Another process pauses: it writes the row; this process's cache is not told.
    async with stack.runtime.sessionmaker() as session, session.begin():
        session.add(AppSetting(key=KILL_SWITCH, value=True, changed_by="cli:other"))

    response = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id, n=2), headers=stack.auth(stack.a)
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["sync_status"] == "pending", answer
    assert answer["resman_lead_id"] is None
    stack.runtime.worker.wake()
    async with read_session(stack.runtime.sessionmaker) as session:
        states = list(
            await session.scalars(
                select(LeadSyncQueue.state).where(
                    LeadSyncQueue.conversation_id == uuid.UUID(answer["conversation_id"])
                )
            )
        )
    assert states == ["queued"]
    assert len(await stack.resman_prospects(stack.a)) == before

    async with stack.runtime.sessionmaker() as session, session.begin():
        row = await session.get(AppSetting, KILL_SWITCH)
        assert row is not None
        row.value = False
    stack.runtime.worker.wake()

    async def drained() -> bool:
        return len(await stack.resman_prospects(stack.a)) == before + 1

    await wait_until(drained)
    await synced_prospect(stack, answer["conversation_id"])
