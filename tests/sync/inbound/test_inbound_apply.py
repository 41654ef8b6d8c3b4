"""apply_prospect() called directly on a real database (SQLite and PostgreSQL): the same
prospect applied twice changes nothing the second time, and a conflict is parked and
announced as a ``sync_conflict`` event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.db.base import Base
from leadsync.db.models import (
    Conversation,
    LeadLink,
    LeadSyncLog,
    LeadSyncQueue,
    RealtimeEvent,
    StatusHistory,
    SyncConflict,
)
from leadsync.resman.models import Customer, CustomerType, Event, Identification, Phone, Prospect
from leadsync.sync.inbound.apply import apply_prospect

PROSPECT_ID = "P-200"
AGREED: dict[str, Any] = {
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann.lee@example.org",
    "phone": "+15125550199",
    "status": "new",
}
_COUNTED: tuple[type[Base], ...] = (
    Conversation,
    LeadLink,
    LeadSyncLog,
    LeadSyncQueue,
    RealtimeEvent,
    StatusHistory,
    SyncConflict,
)


def _prospect(*, email: str, phone: str = "(737) 555-0142") -> Prospect:
    return Prospect(
        customers=(
            Customer(
                customer_type=CustomerType.PROSPECT,
                identifications=(
                    Identification("ProspectID", PROSPECT_ID),
                    Identification("PersonID", "PER-2"),
                ),
                first_name="Ann",
                last_name="Lee",
                phones=(Phone(phone),),
                email=email,
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


async def _linked(session: AsyncSession) -> tuple[Conversation, Any]:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    conv = await make_conversation(session, property_id=prop.id)
    conv.email, conv.phone = AGREED["email"], AGREED["phone"]
    session.add(
        LeadLink(
            conversation_id=conv.id,
            integration_id=integration.id,
            resman_prospect_id=PROSPECT_ID,
            base=dict(AGREED),
        )
    )
    await session.flush()
    return conv, integration


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {
        model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
        for model in _COUNTED
    }


async def test_a_prospect_applied_twice_changes_nothing_the_second_time(
    session: AsyncSession,
) -> None:
    conv, integration = await _linked(session)
    prospect = _prospect(email=AGREED["email"])

    first = await apply_prospect(session, integration=integration, prospect=prospect, source="pull")
    assert first.action == "updated"
    await session.refresh(conv)
    assert (conv.phone, conv.status) == ("+17375550142", "tour_scheduled")
    rows, updated_at = await _counts(session), conv.updated_at
    link = (await session.scalars(select(LeadLink))).one()
    base = dict(link.base or {})

    second = await apply_prospect(
        session, integration=integration, prospect=prospect, source="pull"
    )

    assert (second.action, second.conflicts_open, second.pushed) == ("unchanged", 0, False)
    assert await _counts(session) == rows
    await session.refresh(conv)
    await session.refresh(link)
    assert (conv.updated_at, link.base) == (updated_at, base)


async def test_a_conflict_is_parked_and_announced(session: AsyncSession) -> None:
    conv, integration = await _linked(session)
    # Both sides changed the email since they last agreed (manual_review: a person decides).
    conv.email = "ann@domiq.example"
    await session.flush()

    outcome = await apply_prospect(
        session,
        integration=integration,
        prospect=_prospect(email="ann@resman.example", phone=AGREED["phone"]),
        source="webhook",
    )

    assert outcome.conflicts_open == 1
    await session.refresh(conv)
    assert conv.email == "ann@domiq.example"  # parked, not overwritten
    conflict = (await session.scalars(select(SyncConflict))).one()
    assert (conflict.field, conflict.status, conflict.conversation_id) == ("email", "open", conv.id)
    assert (conflict.domiq_value, conflict.resman_value) == (
        "ann@domiq.example",
        "ann@resman.example",
    )
    announced = (
        await session.scalars(
            select(RealtimeEvent).where(RealtimeEvent.event_type == "sync_conflict")
        )
    ).one()
    assert announced.property_id == conv.property_id
    assert (announced.data["conversation_id"], announced.data["fields"]) == (
        str(conv.id),
        ["email"],
    )
