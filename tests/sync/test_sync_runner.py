"""The job runner's handler table, without the HTTP API or the worker loop: each job type
reaches its own handler (seen by what only that handler does, against the bundled sandbox
through the real ResMan client), a job no handler knows is dead-lettered as an internal
error, and a push queued by an earlier version (with its unread ``only`` key) still runs;
on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from factories import make_conversation
from leadsync.db.models import Conversation, LeadLink, LeadSyncLog, LeadSyncQueue
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.jobs import (
    Job,
    Placement,
    PushJob,
    RefreshJob,
    RetireJob,
    enqueue_job,
)
from sync.sync_kit import Engine


async def _conversation(engine_kit: Engine, *, first_name: str) -> uuid.UUID:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(
            session, property_id=engine_kit.property_id, first_name=first_name
        )
        conv.email = f"{first_name.lower()}@example.org"
    return conv.id


async def _queue(engine_kit: Engine, job: Job, *, conversation_id: uuid.UUID | None) -> uuid.UUID:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        return await enqueue_job(
            session,
            job=job,
            at=Placement(
                integration_id=engine_kit.integration_id,
                conversation_id=conversation_id,
                priority=2,
                lead_key=None if conversation_id else f"test:{uuid.uuid4()}",
            ),
        )


async def _queue_raw(
    engine_kit: Engine, *, operation: str, data: dict[str, Any], conversation_id: uuid.UUID
) -> uuid.UUID:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        return await queue.enqueue(
            session,
            integration_id=engine_kit.integration_id,
            conversation_id=conversation_id,
            lead_key=str(conversation_id),
            operation=operation,
            data=data,
        )


async def _row(engine_kit: Engine, job_id: uuid.UUID) -> LeadSyncQueue:
    async with engine_kit.runtime.sessionmaker() as session:
        return await session.get_one(LeadSyncQueue, job_id)


async def test_a_push_job_reaches_the_push_handler(engine_kit: Engine) -> None:
    conversation_id = await _conversation(engine_kit, first_name="Pushed")
    job_id = await _queue(
        engine_kit,
        PushJob(sync_type="create", fields={}, narrative={"initial_message": "Hi"}),
        conversation_id=conversation_id,
    )

    outcome = await engine_kit.runtime.runner.claim_and_run(job_id=job_id)

    assert outcome is not None
    assert outcome.state == "succeeded", outcome.error
    assert outcome.resman_lead_id
    async with engine_kit.runtime.sessionmaker() as session:
        link = (await session.scalars(select(LeadLink))).one()
    assert (link.conversation_id, link.resman_prospect_id) == (
        conversation_id,
        outcome.resman_lead_id,
    )
    assert (await _row(engine_kit, job_id)).state == "succeeded"


async def test_a_refresh_job_reaches_the_refresh_handler(engine_kit: Engine) -> None:
    prospect = await engine_kit.office_lead(
        first_name="Walkin", email="walkin@example.org", phone="+15125550111"
    )
    assert prospect.prospect_id is not None
    job_id = await _queue(
        engine_kit, RefreshJob(prospect_id=prospect.prospect_id), conversation_id=None
    )

    outcome = await engine_kit.runtime.runner.claim_and_run(job_id=job_id)

    assert outcome is not None
    assert (outcome.state, outcome.error) == ("succeeded", None)
    # The refresh read ResMan's prospect and stored it as a ResMan-only lead.
    async with engine_kit.runtime.sessionmaker() as session:
        conv = (await session.scalars(select(Conversation))).one()
        link = (await session.scalars(select(LeadLink))).one()
    assert (conv.first_name, conv.email, conv.source) == ("Walkin", "walkin@example.org", "resman")
    assert (link.conversation_id, link.resman_prospect_id) == (conv.id, prospect.prospect_id)


async def test_a_retire_job_reaches_the_retire_handler(engine_kit: Engine) -> None:
    surplus = await engine_kit.office_lead(
        first_name="Twice", email="twice@example.org", phone="+15125550122"
    )
    assert surplus.prospect_id is not None
    conversation_id = await _conversation(engine_kit, first_name="Kept")
    job_id = await _queue(
        engine_kit,
        RetireJob(
            prospect_id=surplus.prospect_id, person_id=surplus.person_id, merged_into="P-KEPT"
        ),
        conversation_id=conversation_id,
    )

    outcome = await engine_kit.runtime.runner.claim_and_run(job_id=job_id)

    assert outcome is not None
    assert (outcome.state, outcome.resman_lead_id) == ("succeeded", surplus.prospect_id)
    target = await engine_kit.target()
    found = await target.client.search_prospects(
        creds=target.creds, prospect_id=surplus.prospect_id
    )
    assert [p.lead.customer_type.value for p in found] == ["lost"]
    async with engine_kit.runtime.sessionmaker() as session:
        logged = (await session.scalars(select(LeadSyncLog))).one()
    assert logged.details is not None
    assert (logged.details["action"], logged.details["merged_into"]) == ("retired", "P-KEPT")


async def test_an_unknown_operation_is_dead_lettered_as_an_internal_error(
    engine_kit: Engine,
) -> None:
    conversation_id = await _conversation(engine_kit, first_name="Unknown")
    job_id = await _queue_raw(
        engine_kit, operation="push", data={"sync_type": "update"}, conversation_id=conversation_id
    )
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        (claimed,) = await queue.claim(
            session,
            worker_id=engine_kit.runtime.runner.worker_id,
            limit=1,
            lease=timedelta(seconds=60),
            job_id=job_id,
        )
    # The table allows only the spec's operations; a job from a newer version reading one
    # this runner has no handler for is what the runner may still be handed.
    stranger = dataclasses.replace(claimed, sync_operation="teleport")

    outcome = await engine_kit.runtime.runner.run(stranger)

    assert outcome.state == "dead"
    assert outcome.error is not None
    assert outcome.error.startswith("[internal] ValueError (details in the log)")
    row = await _row(engine_kit, job_id)
    assert (row.state, row.error_category) == ("dead", "internal")


async def test_a_push_queued_with_the_old_only_key_still_runs(engine_kit: Engine) -> None:
    conversation_id = await _conversation(engine_kit, first_name="Legacy")
    job_id = await _queue_raw(
        engine_kit,
        operation="push",
        data={"sync_type": "create", "fields": {"first_name": "Legacy"}, "only": ["first_name"]},
        conversation_id=conversation_id,
    )

    outcome = await engine_kit.runtime.runner.claim_and_run(job_id=job_id)

    assert outcome is not None
    assert outcome.state == "succeeded", outcome.error
    target = await engine_kit.target()
    found = await target.client.search_prospects(
        creds=target.creds, prospect_id=outcome.resman_lead_id
    )
    # The whole conversation was pushed, not only the field the old key named.
    assert [(p.lead.first_name, p.lead.email) for p in found] == [("Legacy", "legacy@example.org")]
