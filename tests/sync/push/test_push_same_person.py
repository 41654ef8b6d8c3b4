"""Two chats of one new person pushed at once make ONE prospect: the later create waits for
the earlier one (without a ResMan call or a spent retry) and then links to it; on SQLite and
PostgreSQL, against the bundled sandbox (found by the chaos suite)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from factories import make_conversation
from leadsync.db.models import LeadLink, LeadSyncQueue
from leadsync.sync.queue.jobs import Placement, PushJob, enqueue_job
from stack import wait_until
from sync.sync_kit import Engine

EMAIL = "dana.twice@example.org"


async def _chat(engine_kit: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """A new conversation of the same person and its create job."""
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(session, property_id=engine_kit.property_id)
        conv.first_name, conv.last_name, conv.email = "Dana", "Twice", EMAIL
        await session.flush()
        job_id = await enqueue_job(
            session,
            job=PushJob(sync_type="create", fields={}, narrative={"initial_message": "Hi"}),
            at=Placement(
                integration_id=engine_kit.integration_id, conversation_id=conv.id, priority=3
            ),
        )
    return conv.id, job_id


async def _prospects_with_email(engine_kit: Engine) -> list[str]:
    target = await engine_kit.target()
    found = await target.client.search_prospects(creds=target.creds, email=EMAIL)
    return [str(p.prospect_id) for p in found]


async def test_the_later_create_waits_and_links_to_the_earlier_one(engine_kit: Engine) -> None:
    runner = engine_kit.runtime.runner
    first_conv, first_job = await _chat(engine_kit)
    second_conv, second_job = await _chat(engine_kit)

    # The later job runs first (another worker took it): it must not create.
    waited = await runner.claim_and_run(job_id=second_job)
    assert waited is not None
    assert waited.state == "retry"
    assert await _prospects_with_email(engine_kit) == []
    async with engine_kit.runtime.sessionmaker() as session:
        row = await session.get_one(LeadSyncQueue, second_job)
    assert (row.error_category, row.retry_count) == ("waiting", 0)

    created = await runner.claim_and_run(job_id=first_job)
    assert created is not None
    assert created.state == "succeeded", created

    async def second_done() -> bool:
        outcome = await runner.claim_and_run(job_id=second_job)
        return outcome is not None and outcome.state == "succeeded"

    await wait_until(second_done)
    assert await _prospects_with_email(engine_kit) == [created.resman_lead_id]
    async with engine_kit.runtime.sessionmaker() as session:
        links = {
            link.conversation_id: link.resman_prospect_id
            for link in await session.scalars(select(LeadLink))
        }
    assert links == {first_conv: created.resman_lead_id, second_conv: created.resman_lead_id}
