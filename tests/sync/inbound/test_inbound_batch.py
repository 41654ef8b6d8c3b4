"""A pull applies a batch of prospects with what it read for the whole batch
(``inbound.batch``): the same decisions as applying them one at a time (new, retired, a
chatbot lead waiting for its push, an existing link, the same prospect twice in one batch),
and new prospects are written together at the batch's commit instead of one flush each.
Real SQLite and PostgreSQL; the pull through the real client against the sandbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.db.models import Conversation, LeadLink, ResmanIntegration, RetiredProspect
from leadsync.db.types import utcnow
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Identification,
    Phone,
    Prospect,
    ProspectEntry,
)
from leadsync.sync.inbound.apply import ApplyOutcome, apply_prospect
from leadsync.sync.inbound.batch import read_batch_facts
from sync.sync_kit import Engine, counted_statements

WAITING_EMAIL = "mia.wait@example.org"


def _prospect(prospect_id: str, *, first: str, phone: str, email: str | None = None) -> Prospect:
    return Prospect(
        customers=(
            Customer(
                customer_type=CustomerType.PROSPECT,
                identifications=(Identification("ProspectID", prospect_id),),
                first_name=first,
                last_name="Office",
                phones=(Phone(phone),),
                email=email or f"{prospect_id.lower()}@example.org",
            ),
        ),
    )


#: New A, new B sharing A's phone, W sharing a waiting chatbot lead's email, R retired by a
#: merge, L already linked (the office changed its phone), and A again (it changed during the
#: scan, so a later window read it a second time).
BATCH = (
    _prospect("P-A", first="Ava", phone="(512) 555-0101"),
    _prospect("P-B", first="Ben", phone="(512) 555-0101"),
    _prospect("P-W", first="Mia", phone="(512) 555-0103", email=WAITING_EMAIL),
    _prospect("P-R", first="Rex", phone="(512) 555-0104"),
    _prospect("P-L", first="Lia", phone="(512) 555-0199"),
    _prospect("P-A", first="Avery", phone="(512) 555-0101"),
)


@dataclass
class _World:
    integration: ResmanIntegration
    waiting: uuid.UUID
    linked: uuid.UUID


async def _world(session: AsyncSession) -> _World:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    waiting = await make_conversation(session, property_id=prop.id, first_name="Mia")
    waiting.email = WAITING_EMAIL
    linked = await make_conversation(session, property_id=prop.id, first_name="Lia")
    linked.email, linked.phone = "p-l@example.org", "+15125550105"
    base = {"first_name": "Lia", "last_name": "Office", "email": "p-l@example.org"}
    session.add_all(
        [
            LeadLink(
                conversation_id=linked.id,
                integration_id=integration.id,
                resman_prospect_id="P-L",
                base={**base, "phone": "+15125550105", "status": "new"},
            ),
            RetiredProspect(
                integration_id=integration.id, resman_prospect_id="P-R", merged_into="P-L"
            ),
        ]
    )
    await session.flush()
    return _World(integration, waiting.id, linked.id)


def _shape(world: _World, outcomes: list[ApplyOutcome]) -> list[tuple[str, str]]:
    """Outcomes with the conversation named by role (the ids differ between the worlds)."""
    roles = {world.waiting: "waiting", world.linked: "linked", None: "none"}
    return [(o.action, roles.get(o.conversation_id, "new")) for o in outcomes]


async def _counts(session: AsyncSession, world: _World) -> dict[str, int]:
    prop = world.integration.property_id
    conversations = await session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.property_id == prop)
    )
    links = await session.scalar(
        select(func.count())
        .select_from(LeadLink)
        .where(LeadLink.integration_id == world.integration.id)
    )
    return {"conversations": conversations or 0, "links": links or 0}


async def test_a_batch_decides_as_one_prospect_at_a_time_does(session: AsyncSession) -> None:
    batched, alone = await _world(session), await _world(session)

    facts = await read_batch_facts(
        session,
        integration_id=batched.integration.id,
        property_id=batched.integration.property_id,
        entries=[ProspectEntry.of(p) for p in BATCH],
        own_source=None,
    )
    assert facts.unlinked == {"P-A", "P-B", "P-W", "P-R"}
    assert facts.retired == {"P-R"}
    with_facts = [
        await apply_prospect(
            session, integration=batched.integration, prospect=p, source="pull", facts=facts
        )
        for p in BATCH
    ]
    one_by_one = [
        await apply_prospect(session, integration=alone.integration, prospect=p, source="pull")
        for p in BATCH
    ]

    expected = [
        ("created", "new"),
        ("created", "new"),  # A's lead is linked already: not a lead waiting for its push
        ("ignored", "waiting"),
        ("ignored", "none"),
        ("updated", "linked"),
        ("updated", "new"),  # the second copy of A merges into the lead the first one made
    ]
    assert _shape(batched, with_facts) == expected
    assert _shape(alone, one_by_one) == expected
    assert with_facts[5].conversation_id == with_facts[0].conversation_id
    # The two new leads, one link each (A stored once), beside the waiting and linked ones.
    assert await _counts(session, batched) == {"conversations": 4, "links": 3}
    assert await _counts(session, alone) == await _counts(session, batched)
    stored = await session.get(Conversation, with_facts[0].conversation_id)
    assert stored is not None
    assert stored.first_name == "Avery"


async def test_a_pull_writes_a_batch_of_new_prospects_together(engine_kit: Engine) -> None:
    now = utcnow()
    await engine_kit.office_leads(
        count=40, start=now - timedelta(minutes=2), end=now - timedelta(seconds=5)
    )
    with counted_statements(engine_kit.runtime.engine) as statements:
        summary = await engine_kit.runtime.scheduler.pull_now(
            integration_id=engine_kit.integration_id, since=now - timedelta(minutes=3)
        )

    assert summary.new_leads == 40
    # One batch: each table written by one statement, not one per prospect (lead_sync_log
    # also gets the pull's own summary row). SQLite gives realtime_event, whose key only the
    # INSERT makes, one statement per row: not counted.
    for table in ("conversation", "lead_link", "status_history"):
        assert statements[f"INSERT {table}"] == 1, (table, statements)
    assert statements["INSERT lead_sync_log"] == 2, statements
    # The reads do not grow with the batch: links, retired and waiting leads once each
    # (before: three per prospect, 120 here).
    assert statements["SELECT"] < 20, statements
