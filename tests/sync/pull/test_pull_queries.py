"""The reads behind the pull API (sync/pull/queries.py) on a real database (SQLite and
PostgreSQL): scoped to the given properties, in the order the API promises."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.db.models import Conversation, LeadLink
from leadsync.db.types import utcnow
from leadsync.sync.pull import queries


async def _leads(session: AsyncSession) -> tuple[uuid.UUID, list[Conversation]]:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    convs = []
    for age, (name, status) in enumerate([("Ann", "new"), ("Bo", "lost"), ("Cy", "new")]):
        conv = await make_conversation(session, property_id=prop.id, first_name=name)
        conv.status, conv.phone = status, "+15125550100"
        conv.updated_at = utcnow() - timedelta(minutes=age)
        convs.append(conv)
    session.add(
        LeadLink(
            conversation_id=convs[0].id, integration_id=integration.id, resman_prospect_id="P-1"
        )
    )
    await session.flush()
    return prop.id, convs


async def test_leads_by_id_keep_the_order_asked_and_skip_unknown_ids(
    session: AsyncSession,
) -> None:
    _, (ann, bo, cy) = await _leads(session)

    rows = await queries.leads_by_id(session, ids=[cy.id, uuid.uuid4(), ann.id, bo.id])

    assert [
        (conv.first_name, link.resman_prospect_id if link else None) for conv, link in rows
    ] == [
        ("Cy", None),
        ("Ann", "P-1"),
        ("Bo", None),
    ]
    assert await queries.lead_by_id(session, conversation_id=uuid.uuid4()) is None


async def test_with_status_filters_in_order_across_many_ids(session: AsyncSession) -> None:
    _, (ann, bo, cy) = await _leads(session)
    # More ids than one IN (...) list holds: the filter reads them in chunks.
    ids = [cy.id, *(uuid.uuid4() for _ in range(1200)), bo.id, ann.id]

    assert await queries.with_status(session, ids=ids, statuses=frozenset({"new"})) == [
        cy.id,
        ann.id,
    ]
    assert await queries.with_status(session, ids=ids[:2], statuses=None) == ids[:2]


async def test_leads_by_contact_are_scoped_newest_first_and_limited(session: AsyncSession) -> None:
    prop_id, _ = await _leads(session)
    await _leads(session)  # another property: same phone, never found

    found = await queries.leads_by_contact(
        session, property_ids=[prop_id], contact={"phone": "+15125550100"}, limit=2
    )

    assert [conv.first_name for conv, _ in found] == ["Ann", "Bo"]
    by_either = await queries.leads_by_contact(
        session,
        property_ids=[prop_id],
        contact={"email": "nobody@example.org", "phone": "+15125550100"},
        limit=50,
    )
    assert len(by_either) == 3


async def test_pulling_integrations_leave_out_disabled_and_push_only_ones(
    session: AsyncSession,
) -> None:
    props = [await make_property(session) for _ in range(3)]
    pulls, disabled, push_only = [await make_integration(session, property_id=p.id) for p in props]
    disabled.sync_enabled = False
    push_only.sync_direction = "to_resman"
    await session.flush()

    found = await queries.pulling_integrations(session, property_ids=[p.id for p in props])

    assert [i.id for i in found] == [pulls.id]
