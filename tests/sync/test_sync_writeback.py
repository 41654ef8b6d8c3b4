"""apply_merge(), the one write-back, called directly on a real database (SQLite and
PostgreSQL): each part of a WriteBack has its own effect, and nothing else does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.db.models import (
    Conversation,
    LeadLink,
    LeadSyncQueue,
    RealtimeEvent,
    StatusHistory,
    SyncConflict,
)
from leadsync.merge import MergeRules, merge
from leadsync.sync.queue.jobs import PushJob, read_job
from leadsync.sync.writeback import Applied, WriteBack, apply_merge

AGREED: dict[str, Any] = {
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann.lee@example.org",
    "phone": "+15125550199",
    "status": "new",
}


async def _lead(
    session: AsyncSession, *, linked: bool
) -> tuple[Conversation, LeadLink | None, uuid.UUID]:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    conv = await make_conversation(session, property_id=prop.id)
    conv.email, conv.phone, conv.status = AGREED["email"], AGREED["phone"], "new"
    link = None
    if linked:
        link = LeadLink(
            conversation_id=conv.id,
            integration_id=integration.id,
            resman_prospect_id="P-1",
            base=dict(AGREED),
        )
        session.add(link)
    await session.flush()
    return conv, link, integration.id


async def _apply(
    session: AsyncSession,
    conv: Conversation,
    link: LeadLink | None,
    integration_id: uuid.UUID,
    change: WriteBack,
    **options: Any,
) -> Applied:
    return await apply_merge(
        session,
        conv=conv,
        link=link,
        integration_id=integration_id,
        change=change,
        direction="from_resman",
        changed_by="Dana Agent",
        resman_lead_id="P-1",
        **options,
    )


async def _events(session: AsyncSession) -> list[RealtimeEvent]:
    return list(await session.scalars(select(RealtimeEvent).order_by(RealtimeEvent.sequence)))


async def test_to_domiq_is_written_with_a_status_history_row(session: AsyncSession) -> None:
    conv, link, integration_id = await _lead(session, linked=True)
    change = WriteBack(
        to_domiq={"status": "contacted", "phone": "+17375550142"}, push=(), base=dict(AGREED)
    )

    applied = await _apply(session, conv, link, integration_id, change)

    assert applied == Applied(changed=True, conflicts=0, job_id=None)
    await session.refresh(conv)
    assert (conv.status, conv.phone) == ("contacted", "+17375550142")
    history = (await session.scalars(select(StatusHistory))).one()
    assert (history.old_status, history.new_status, history.source, history.changed_by) == (
        "new",
        "contacted",
        "resman",
        "Dana Agent",
    )
    assert [(e.event_type, e.source) for e in await _events(session)] == [
        ("status_change", "resman")
    ]


async def test_nothing_to_write_changes_nothing(session: AsyncSession) -> None:
    conv, link, integration_id = await _lead(session, linked=True)

    applied = await _apply(
        session, conv, link, integration_id, WriteBack(to_domiq={}, push=(), base=dict(AGREED))
    )

    assert applied == Applied(changed=False, conflicts=0, job_id=None)
    assert (await session.scalars(select(StatusHistory))).all() == []
    assert await _events(session) == []


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "unlinked"])
async def test_a_push_is_queued_only_for_a_linked_lead(session: AsyncSession, linked: bool) -> None:
    conv, link, integration_id = await _lead(session, linked=linked)
    conv.first_name = "Anne"
    change = WriteBack(to_domiq={}, push=("first_name",), base=dict(AGREED))

    applied = await _apply(session, conv, link, integration_id, change)

    jobs = (await session.scalars(select(LeadSyncQueue))).all()
    if not linked:
        # No prospect to update: the lead's own create push carries its values.
        assert (applied.job_id, jobs) == (None, [])
        return
    (job,) = jobs
    assert applied.job_id == job.id
    assert (job.conversation_id, job.integration_id) == (conv.id, integration_id)
    assert job.sync_data is not None
    payload = read_job(job.sync_operation, job.sync_data)
    assert isinstance(payload, PushJob)
    assert (payload.sync_type, payload.fields["first_name"]) == ("update", "Anne")


async def test_the_base_snapshot_is_stored(session: AsyncSession) -> None:
    conv, link, integration_id = await _lead(session, linked=True)
    assert link is not None
    modified = datetime(2026, 11, 20, 15, 4, 5, tzinfo=UTC)
    new_base = {**AGREED, "phone": "(737) 555-0142"}

    await _apply(
        session,
        conv,
        link,
        integration_id,
        WriteBack(to_domiq={}, push=(), base=new_base),
        resman_modified_at=modified,
    )

    await session.refresh(link)
    # Stored in canonical form, so a later merge sees no formatting difference as a change.
    assert link.base == {**AGREED, "phone": "+17375550142"}
    assert link.base_updated_at is not None
    assert link.resman_modified_at is not None
    assert link.resman_modified_at.replace(tzinfo=UTC) == modified


async def test_conflicts_are_recorded_and_announced(session: AsyncSession) -> None:
    conv, link, integration_id = await _lead(session, linked=True)
    conv.email = "ann@domiq.example"
    result = merge(
        base=dict(AGREED),
        domiq={**AGREED, "email": "ann@domiq.example"},
        resman={**AGREED, "email": "ann@resman.example"},
        rules=MergeRules(),
    )

    applied = await _apply(session, conv, link, integration_id, WriteBack.of(result))

    assert applied.conflicts == 1
    conflict = (await session.scalars(select(SyncConflict))).one()
    assert (conflict.field, conflict.status, conflict.domiq_value, conflict.resman_value) == (
        "email",
        "open",
        "ann@domiq.example",
        "ann@resman.example",
    )
    (event,) = await _events(session)
    assert (event.event_type, event.property_id) == ("sync_conflict", conv.property_id)
    assert (event.data["conversation_id"], event.data["fields"]) == (str(conv.id), ["email"])


async def test_announce_false_publishes_no_lead_event(session: AsyncSession) -> None:
    conv, link, integration_id = await _lead(session, linked=True)
    change = WriteBack(to_domiq={"status": "contacted"}, push=(), base=dict(AGREED))

    applied = await _apply(session, conv, link, integration_id, change, announce=False)

    assert applied.changed
    await session.refresh(conv)
    assert conv.status == "contacted"
    assert await _events(session) == []
