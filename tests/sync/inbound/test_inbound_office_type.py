"""A post of ours that ResMan applies after the office took an application (it hung past our
read timeout while ResMan still did the work) re-types the applicant as a prospect. The next
read of ResMan keeps the office's status and queues a push that puts the office's type back
(mapping.status.held_type). Real sandbox through the real client; SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from factories import make_conversation
from leadsync.db.models import Conversation, LeadSyncQueue, ResmanIntegration
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.to_resman import ProspectIds, lead_to_prospect
from leadsync.resman.models import CustomerType, Event, EventType, Prospect
from leadsync.sync.inbound.apply import refresh_prospect
from leadsync.sync.push.plan import plan_push
from leadsync.sync.push.record import record_push
from leadsync.sync.push.send import send_push
from leadsync.sync.queue.jobs import PushJob
from sync.sync_kit import Engine


async def _linked_lead(engine_kit: Engine) -> tuple[uuid.UUID, str]:
    """A chatbot lead pushed to ResMan and linked: its conversation and prospect ids."""
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(session, property_id=engine_kit.property_id)
        conv.email, conv.phone = "mia.late@example.org", "+15125550177"
    target = await engine_kit.target()
    async with engine_kit.runtime.sessionmaker() as session:
        plan = await plan_push(
            session,
            conversation_id=conv.id,
            integration_id=engine_kit.integration_id,
            job=PushJob(sync_type="create", fields={}, narrative={}),
        )
    sent = await send_push(plan=plan, target=target)
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        await record_push(session, plan=plan, sent=sent, integration_id=engine_kit.integration_id)
    return conv.id, sent.result.prospect_id


async def _resman(engine_kit: Engine, prospect_id: str) -> Prospect:
    target = await engine_kit.target()
    found = await target.client.search_prospects(creds=target.creds, prospect_id=prospect_id)
    return next(p for p in found if p.prospect_id == prospect_id)


async def _refresh(engine_kit: Engine, prospect_id: str) -> None:
    """What the next poll does with this prospect."""
    target = await engine_kit.target()
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        integration = await session.get(ResmanIntegration, engine_kit.integration_id)
        assert integration is not None
        await refresh_prospect(
            session,
            integration=integration,
            client=target.client,
            creds=target.creds,
            prospect_id=prospect_id,
            own_source=target.transaction_source,
        )


async def test_a_late_post_of_ours_does_not_undo_the_office_application(
    engine_kit: Engine,
) -> None:
    conversation_id, prospect_id = await _linked_lead(engine_kit)
    target = await engine_kit.target()
    await engine_kit.staff_action(
        prospect_id=prospect_id, action="status", body={"customer_type": "applicant"}
    )
    office = await _resman(engine_kit, prospect_id)
    office_event = max(e.event_date for e in office.events)
    # The post we built before the office's change, landing after it: our type as we read it
    # then, and a text event of ours dated within the same second as the office's application.
    late = lead_to_prospect(
        LeadFields(first_name="Mia"),
        ids=ProspectIds(prospect_id),
        events=[
            Event(
                EventType.TEXT_TO_PROSPECT.value,
                datetime.fromisoformat(office_event.isoformat()),
                transaction_source=target.require_source(),
            )
        ],
        customer_type=CustomerType.PROSPECT,
    )
    await target.client.post_lead(creds=target.creds, prospect=late)
    assert (await _resman(engine_kit, prospect_id)).lead.customer_type == CustomerType.PROSPECT

    await _refresh(engine_kit, prospect_id)
    async with engine_kit.runtime.sessionmaker() as session:
        conv = await session.get(Conversation, conversation_id)
        jobs = (
            await session.scalars(
                select(LeadSyncQueue).where(LeadSyncQueue.conversation_id == conversation_id)
            )
        ).all()
    assert conv is not None
    # Our side keeps the office's status, and a push is queued for ResMan's side.
    assert conv.status == "application"
    assert [(j.sync_operation, j.state) for j in jobs] == [("push", "queued")]

    async with engine_kit.runtime.sessionmaker() as session:
        plan = await plan_push(
            session,
            conversation_id=conversation_id,
            integration_id=engine_kit.integration_id,
            job=PushJob(sync_type="update", fields={}),
        )
    sent = await send_push(plan=plan, target=target)
    assert sent.result.action == "updated"
    restored = await _resman(engine_kit, prospect_id)
    assert restored.lead.customer_type == CustomerType.APPLICANT
    # Only the type went back: no status event of ours was added.
    assert len(restored.events) == len(office.events) + 1

    # Read again, ResMan and our side agree: nothing more to push.
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        await record_push(session, plan=plan, sent=sent, integration_id=engine_kit.integration_id)
        for job in (await session.scalars(select(LeadSyncQueue))).all():
            await session.delete(job)
    await _refresh(engine_kit, prospect_id)
    async with engine_kit.runtime.sessionmaker() as session:
        assert (await session.scalars(select(LeadSyncQueue))).all() == []
