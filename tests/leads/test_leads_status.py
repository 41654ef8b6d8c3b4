"""leads/status.py on a real database (SQLite and PostgreSQL): a lead is found by our id or
by ResMan's ProspectID, only within the key's properties; the status conflicts still open
are the ones the status route reports."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.api.auth import Principal
from leadsync.db.models import Conversation, LeadLink, SyncConflict
from leadsync.errors import DomainError
from leadsync.leads.status import find_lead, open_status_conflicts


def _key(*property_ids: uuid.UUID) -> Principal:
    return Principal(key_id=uuid.uuid4(), name="chatbot", property_ids=frozenset(property_ids))


async def _linked(session: AsyncSession) -> tuple[Conversation, LeadLink]:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    conv = await make_conversation(session, property_id=prop.id)
    link = LeadLink(
        conversation_id=conv.id, integration_id=integration.id, resman_prospect_id="P-9"
    )
    session.add(link)
    await session.flush()
    return conv, link


@pytest.mark.parametrize("by", ["conversation_id", "prospect_id"])
async def test_a_lead_is_found_by_either_id(session: AsyncSession, by: str) -> None:
    conv, link = await _linked(session)
    lead_id = str(conv.id) if by == "conversation_id" else "P-9"

    found, found_link = await find_lead(session, principal=_key(conv.property_id), lead_id=lead_id)

    assert (found.id, found_link) == (conv.id, link)


@pytest.mark.parametrize("lead_id", ["P-9", "P-unknown", "not-a-uuid", str(uuid.uuid4())])
async def test_another_propertys_lead_is_as_unknown_as_a_missing_one(
    session: AsyncSession, lead_id: str
) -> None:
    await _linked(session)

    with pytest.raises(DomainError) as raised:
        await find_lead(session, principal=_key(uuid.uuid4()), lead_id=lead_id)

    assert (raised.value.status, raised.value.detail) == (
        404,
        f"no lead {lead_id} for this API key",
    )


async def test_open_status_conflicts_are_the_leads_open_status_ones(session: AsyncSession) -> None:
    conv, link = await _linked(session)
    other = await make_conversation(session, property_id=conv.property_id)

    def conflict(conversation_id: uuid.UUID, field: str, status: str) -> SyncConflict:
        return SyncConflict(
            conversation_id=conversation_id,
            integration_id=link.integration_id,
            field=field,
            domiq_value="a",
            resman_value="b",
            status=status,
        )

    wanted = conflict(conv.id, "status", "open")
    session.add_all(
        [
            wanted,
            conflict(conv.id, "status", "resolved"),
            conflict(conv.id, "email", "open"),
            conflict(other.id, "status", "open"),
        ]
    )
    await session.flush()

    found = await open_status_conflicts(session, conversation_id=conv.id)

    assert [c.id for c in found] == [wanted.id]
