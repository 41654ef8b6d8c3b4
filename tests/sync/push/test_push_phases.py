"""The push's three phases called directly (no HTTP API, no queue): plan_push reads our
database, send_push talks to the bundled sandbox through the real ResMan client with no
session, record_push stores the link; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from factories import make_conversation
from leadsync.db.models import Conversation, LeadLink, RealtimeEvent
from leadsync.mapping.lead import fields_to_json
from leadsync.sync.push.plan import PushPlan, plan_push
from leadsync.sync.push.record import record_push
from leadsync.sync.push.send import SentPush, send_push
from leadsync.sync.queue.jobs import PushJob
from leadsync.sync.records import conversation_fields
from sync.sync_kit import Engine


async def _created(engine_kit: Engine, *, first_name: str) -> uuid.UUID:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(
            session, property_id=engine_kit.property_id, first_name=first_name
        )
        conv.email = f"{first_name.lower()}.lee@example.org"
        conv.phone = "+15125550123"
    return conv.id


async def _plan(engine_kit: Engine, conversation_id: uuid.UUID, *, sync_type: str) -> PushPlan:
    async with engine_kit.runtime.sessionmaker() as session:
        return await plan_push(
            session,
            conversation_id=conversation_id,
            integration_id=engine_kit.integration_id,
            job=PushJob(sync_type=sync_type, fields={}, narrative={"initial_message": "Hi"}),
        )


async def _record(engine_kit: Engine, plan: PushPlan, sent: SentPush) -> None:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        await record_push(session, plan=plan, sent=sent, integration_id=engine_kit.integration_id)


async def test_a_created_conversation_is_planned_sent_and_recorded(engine_kit: Engine) -> None:
    conversation_id = await _created(engine_kit, first_name="Priya")
    target = await engine_kit.target()

    plan = await _plan(engine_kit, conversation_id, sync_type="create")
    # Not linked yet: a create, decided from our database alone.
    assert (plan.ids, plan.base, plan.siblings) == (None, None, ())
    assert (plan.fields.first_name, plan.fields.email) == ("Priya", "priya.lee@example.org")

    sent = await send_push(plan=plan, target=target)
    assert sent.result.action == "created"
    found = await target.client.search_prospects(
        creds=target.creds, prospect_id=sent.result.prospect_id
    )
    assert [(p.lead.first_name, p.lead.email) for p in found] == [
        ("Priya", "priya.lee@example.org")
    ]

    await _record(engine_kit, plan, sent)
    async with engine_kit.runtime.sessionmaker() as session:
        link = (await session.scalars(select(LeadLink))).one()
        events = (await session.scalars(select(RealtimeEvent))).all()
    assert (link.conversation_id, link.resman_prospect_id, link.resman_person_id) == (
        conversation_id,
        sent.result.prospect_id,
        sent.result.person_id,
    )
    assert link.base is not None
    assert link.base["email"] == "priya.lee@example.org"
    # Subscribers learn the new lead's ResMan id.
    assert [(e.event_type, e.data["resman_lead_id"]) for e in events] == [
        ("lead_update", sent.result.prospect_id)
    ]


async def test_a_linked_conversation_sends_only_what_changed(engine_kit: Engine) -> None:
    conversation_id = await _created(engine_kit, first_name="Omar")
    target = await engine_kit.target()
    first = await _plan(engine_kit, conversation_id, sync_type="create")
    created = await send_push(plan=first, target=target)
    await _record(engine_kit, first, created)

    again = await _plan(engine_kit, conversation_id, sync_type="update")
    assert again.ids is not None
    assert again.ids.prospect_id == created.result.prospect_id
    unchanged = await send_push(plan=again, target=target)
    assert unchanged.result.action == "unchanged"

    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await session.get_one(Conversation, conversation_id)
        conv.phone = "+15125550188"
    changed = await _plan(engine_kit, conversation_id, sync_type="update")
    updated = await send_push(plan=changed, target=target)
    await _record(engine_kit, changed, updated)

    assert updated.result.action == "updated"
    found = await target.client.search_prospects(
        creds=target.creds, prospect_id=created.result.prospect_id
    )
    assert [p.lead.phones[0].number for p in found] == ["+15125550188"]
    async with engine_kit.runtime.sessionmaker() as session:
        link = (await session.scalars(select(LeadLink))).one()
        conv = await session.get_one(Conversation, conversation_id)
    # The new base is what both sides now hold.
    assert link.base is not None
    assert link.base["phone"] == fields_to_json(conversation_fields(conv))["phone"]
