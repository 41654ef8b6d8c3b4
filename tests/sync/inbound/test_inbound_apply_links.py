"""ResMan's state reaches EVERY conversation linked to a prospect (a person who chatted
twice), each merged against its own base; on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue
from leadsync.resman.models import Customer, CustomerType, Event, Identification, Phone, Prospect
from leadsync.sync.inbound.apply import apply_prospect

PROSPECT_ID = "P-100"


def _prospect(*, customer_type: CustomerType, phone: str) -> Prospect:
    return Prospect(
        customers=(
            Customer(
                customer_type=customer_type,
                identifications=(
                    Identification("ProspectID", PROSPECT_ID),
                    Identification("PersonID", "PER-1"),
                ),
                first_name="Ann",
                last_name="Lee",
                phones=(Phone(phone),),
                email="ann.lee@example.org",
            ),
        ),
        events=(
            Event(
                event_type="Appointment",
                event_date=datetime(2027, 1, 5, 16, 0, tzinfo=UTC),
                comments="Tour with Sam",
            ),
        ),
    )


async def test_a_prospect_with_two_conversations_updates_both(session: AsyncSession) -> None:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    agreed = {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann.lee@example.org",
        "phone": "+15125550199",
        "status": "new",
    }
    convs = []
    for _ in range(2):
        conv = await make_conversation(session, property_id=prop.id)
        conv.email, conv.phone = agreed["email"], agreed["phone"]
        session.add(
            LeadLink(
                conversation_id=conv.id,
                integration_id=integration.id,
                resman_prospect_id=PROSPECT_ID,
                base=dict(agreed),
            )
        )
        convs.append(conv)
    # The second chat already changed the budget on our side: that stays ours to push.
    convs[1].budget_min = 1500
    await session.flush()

    # The office booked a tour and corrected the phone.
    outcome = await apply_prospect(
        session,
        integration=integration,
        prospect=_prospect(customer_type=CustomerType.PROSPECT, phone="(737) 555-0142"),
        source="pull",
    )

    assert outcome.action == "updated"
    assert outcome.conversation_id == convs[0].id  # the oldest link
    for conv in convs:
        await session.refresh(conv)
        assert conv.phone == "+17375550142"
        assert conv.status == "tour_scheduled"
        assert conv.context["resman"]["resman_prospect_id"] == PROSPECT_ID
    assert convs[1].budget_min == 1500
    links = (await session.scalars(select(LeadLink).order_by(LeadLink.created_at))).all()
    assert {link.base["phone"] for link in links} == {"+17375550142"}
    # Only the conversation with a change of its own needs a push.
    pushes = (await session.scalars(select(LeadSyncQueue.conversation_id))).all()
    assert pushes == [convs[1].id]

    # The same state again changes nothing on either conversation.
    again = await apply_prospect(
        session,
        integration=integration,
        prospect=_prospect(customer_type=CustomerType.PROSPECT, phone="(737) 555-0142"),
        source="pull",
    )
    assert again.action == "unchanged"
    statuses = await session.scalars(select(Conversation.status).order_by(Conversation.id))
    assert set(statuses) == {"tour_scheduled"}
