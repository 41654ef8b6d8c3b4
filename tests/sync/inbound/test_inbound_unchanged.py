"""A prospect state already applied is skipped before any merge (its digest is on every
link), and any change to it, or to our base, makes the next read merge again; on real
SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.db.models import LeadLink
from leadsync.mapping.observed import fingerprint
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Identification,
    Phone,
    Prospect,
    ProspectEntry,
    content_digest,
)
from leadsync.sync.inbound.apply import apply_prospect
from leadsync.sync.inbound.batch import read_batch_facts, unchanged_prospects
from leadsync.sync.writeback import store_base

PROSPECT_ID = "P-200"
OTHER_ID = Identification("ProspectID", "P-201")
AGREED = {
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann.lee@example.org",
    "phone": "+17375550100",
    "status": "new",
}


def _prospect(phone: str = "(737) 555-0142") -> Prospect:
    return Prospect(
        customers=(
            Customer(
                customer_type=CustomerType.PROSPECT,
                identifications=(Identification("ProspectID", PROSPECT_ID),),
                first_name="Ann",
                last_name="Lee",
                phones=(Phone(phone),),
                email="ann.lee@example.org",
            ),
        ),
    )


async def test_the_same_state_is_skipped_and_a_new_one_applied(session: AsyncSession) -> None:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    conv = await make_conversation(session, property_id=prop.id)
    conv.first_name, conv.last_name = AGREED["first_name"], AGREED["last_name"]
    conv.email, conv.phone = AGREED["email"], AGREED["phone"]
    link = LeadLink(
        conversation_id=conv.id,
        integration_id=integration.id,
        resman_prospect_id=PROSPECT_ID,
        base=dict(AGREED),
    )
    session.add(link)
    await session.flush()

    # The office corrected the phone.
    first = await apply_prospect(
        session, integration=integration, prospect=_prospect(), source="pull"
    )
    assert first.action == "updated"
    assert link.resman_fingerprint == fingerprint(_prospect(), own_source=None)
    assert conv.phone == "+17375550142"

    again = await apply_prospect(
        session, integration=integration, prospect=_prospect(), source="pull"
    )
    assert again.action == "unchanged"
    assert again.conversation_id == conv.id
    held = await unchanged_prospects(
        session,
        integration_id=integration.id,
        entries=[ProspectEntry.of(_prospect())],
        own_source=None,
    )
    assert held == {PROSPECT_ID: conv.id}
    # Our TransactionSource decides whose events are ours: another one is another state.
    assert (
        await unchanged_prospects(
            session,
            integration_id=integration.id,
            entries=[ProspectEntry.of(_prospect())],
            own_source="S-9",
        )
        == {}
    )

    changed = _prospect(phone="(737) 555-0199")
    assert (
        await unchanged_prospects(
            session,
            integration_id=integration.id,
            entries=[ProspectEntry.of(changed)],
            own_source=None,
        )
        == {}
    )
    outcome = await apply_prospect(
        session, integration=integration, prospect=changed, source="pull"
    )
    assert outcome.action == "updated"
    assert conv.phone == "+17375550199"


async def test_a_base_written_elsewhere_makes_the_next_read_merge_again(
    session: AsyncSession,
) -> None:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    conv = await make_conversation(session, property_id=prop.id)
    link = LeadLink(
        conversation_id=conv.id, integration_id=integration.id, resman_prospect_id=PROSPECT_ID
    )
    session.add(link)
    await session.flush()
    await apply_prospect(session, integration=integration, prospect=_prospect(), source="pull")
    assert link.resman_fingerprint is not None

    # A push, the merge API or a resolved conflict stores a new base...
    store_base(link, new_base={**link.base, "first_name": "Anne"}, resman_modified_at=None)

    # ...so the same ResMan state is merged again, not skipped: the base's first name is
    # now "Anne" and ResMan still says "Ann", an office change the conversation takes.
    assert link.resman_fingerprint is None
    outcome = await apply_prospect(
        session, integration=integration, prospect=replace(_prospect()), source="pull"
    )
    assert outcome.action == "updated"
    assert link.base["first_name"] == "Ann"
    assert link.resman_fingerprint == fingerprint(_prospect(), own_source=None)


async def test_an_unlinked_prospect_is_never_reported_unchanged(session: AsyncSession) -> None:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)

    held = await unchanged_prospects(
        session,
        integration_id=integration.id,
        entries=[ProspectEntry.of(_prospect())],
        own_source=None,
    )

    assert held == {}


async def test_a_batch_reads_only_the_prospects_that_changed(session: AsyncSession) -> None:
    """A pull's batch arrives as search entries: one whose digest is on its links is never
    read further (reading costs several times the digest), the others are read once."""
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    conv = await make_conversation(session, property_id=prop.id)
    session.add(
        LeadLink(
            conversation_id=conv.id, integration_id=integration.id, resman_prospect_id=PROSPECT_ID
        )
    )
    await session.flush()
    await apply_prospect(session, integration=integration, prospect=_prospect(), source="pull")

    def never_read() -> Prospect:
        raise AssertionError("an unchanged prospect was read")

    unchanged = ProspectEntry(PROSPECT_ID, content_digest(_prospect()), never_read)
    other = replace(_prospect(), customers=(Customer(identifications=(OTHER_ID,)),))
    facts = await read_batch_facts(
        session,
        integration_id=integration.id,
        property_id=prop.id,
        entries=[unchanged, ProspectEntry.of(other)],
        own_source=None,
    )

    assert facts.unchanged == {PROSPECT_ID: conv.id}
    assert facts.read == (None, other)
    assert facts.unlinked == {"P-201"}
