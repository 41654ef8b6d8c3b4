"""A lead's link row is written once per change, not once per attribute: a create INSERTs
its new link with its base snapshot already in it (it used to INSERT a half-made link, then
UPDATE it with the base), and applying ResMan's state to a linked lead stores the new base
and ResMan's fingerprint in one UPDATE (it used to take two). Every create and every pulled
change of a linked lead paid the extra statement. Against the bundled sandbox through the
real client, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from factories import make_conversation
from leadsync.db.models import LeadLink
from leadsync.sync.queue.jobs import Placement, PushJob, RefreshJob, enqueue_job
from sync.sync_kit import Engine, counted_statements


async def _queued(engine_kit: Engine, job: PushJob | RefreshJob, conv_id: uuid.UUID) -> uuid.UUID:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        return await enqueue_job(
            session,
            job=job,
            at=Placement(
                integration_id=engine_kit.integration_id, conversation_id=conv_id, priority=2
            ),
        )


async def _pushed(engine_kit: Engine) -> tuple[uuid.UUID, str]:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(
            session, property_id=engine_kit.property_id, first_name="Linda"
        )
        conv.email, conv.phone = "linda.once@example.org", "+15125550177"
    job_id = await _queued(engine_kit, PushJob(sync_type="create", fields={}), conv.id)
    with counted_statements(engine_kit.runtime.engine) as statements:
        outcome = await engine_kit.runtime.runner.claim_and_run(job_id=job_id)
    assert outcome is not None
    assert outcome.state == "succeeded", outcome
    assert outcome.resman_lead_id
    assert statements["INSERT lead_link"] == 1, statements
    assert statements["UPDATE lead_link"] == 0, statements
    return conv.id, outcome.resman_lead_id


async def test_a_create_writes_its_new_link_once_with_its_base(engine_kit: Engine) -> None:
    conv_id, prospect_id = await _pushed(engine_kit)
    async with engine_kit.runtime.sessionmaker() as session:
        link = (await session.scalars(select(LeadLink))).one()
    assert (link.conversation_id, link.resman_prospect_id) == (conv_id, prospect_id)
    assert link.base is not None
    assert link.base["email"] == "linda.once@example.org"
    assert link.base_updated_at is not None


async def test_applying_resmans_state_to_a_linked_lead_updates_its_link_once(
    engine_kit: Engine,
) -> None:
    conv_id, prospect_id = await _pushed(engine_kit)
    # The office writes a note: ResMan's state differs from what the link last held.
    await engine_kit.staff_action(
        prospect_id=prospect_id, action="notes", body={"text": "Called back, wants a 2 bedroom"}
    )
    job_id = await _queued(engine_kit, RefreshJob(prospect_id=prospect_id), conv_id)

    with counted_statements(engine_kit.runtime.engine) as statements:
        outcome = await engine_kit.runtime.runner.claim_and_run(job_id=job_id)

    assert outcome is not None
    assert outcome.state == "succeeded", outcome
    assert statements["UPDATE lead_link"] == 1, statements
    async with engine_kit.runtime.sessionmaker() as session:
        link = (await session.scalars(select(LeadLink))).one()
    # The digest of the state just merged is stored with the base: reading the same state
    # again needs no merge.
    assert link.resman_fingerprint is not None
