"""The conflict review service on a real database (SQLite and PostgreSQL), without the HTTP
API: a key sees only its properties' conflicts; resolving picks a side through the one
write-back (our value is queued for ResMan, ResMan's value is published to subscribers);
dismissing changes no side; a refused request writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_conversation, make_integration, make_property
from leadsync.conflicts.service import (
    ConflictError,
    dismiss_conflict,
    list_conflicts,
    resolve_conflict,
)
from leadsync.db.models import (
    Conversation,
    LeadLink,
    LeadSyncQueue,
    RealtimeEvent,
    SyncConflict,
)

AGREED: dict[str, Any] = {
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann.lee@example.org",
    "status": "new",
}
OURS, THEIRS = "ann@domiq.example", "ann@resman.example"


async def _parked(session: AsyncSession) -> tuple[Conversation, SyncConflict]:
    """A linked lead whose email both sides changed: one open conflict."""
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    conv = await make_conversation(session, property_id=prop.id)
    conv.email = OURS
    session.add(
        LeadLink(
            conversation_id=conv.id,
            integration_id=integration.id,
            resman_prospect_id="P-300",
            base=dict(AGREED),
        )
    )
    conflict = SyncConflict(
        conversation_id=conv.id,
        integration_id=integration.id,
        field="email",
        base_value=AGREED["email"],
        domiq_value=OURS,
        resman_value=THEIRS,
    )
    session.add(conflict)
    await session.flush()
    return conv, conflict


async def _rows(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_key_lists_only_its_own_properties_conflicts(session: AsyncSession) -> None:
    conv, conflict = await _parked(session)

    mine = await list_conflicts(session, property_ids={conv.property_id})
    others = await list_conflicts(session, property_ids={uuid.uuid4()})

    assert [c.id for c in mine] == [conflict.id]
    assert others == []
    with pytest.raises(ConflictError) as raised:
        await resolve_conflict(
            session,
            conflict_id=conflict.id,
            pick="resman",
            resolved_by="agent",
            property_ids={uuid.uuid4()},
        )
    assert raised.value.status == 404


async def test_picking_our_side_keeps_it_and_queues_it_for_resman(session: AsyncSession) -> None:
    conv, conflict = await _parked(session)

    await resolve_conflict(session, conflict_id=conflict.id, pick="domiq", resolved_by="agent")

    await session.refresh(conv)
    assert conv.email == OURS
    assert (conflict.status, conflict.resolution, conflict.resolved_value) == (
        "resolved",
        "domiq",
        OURS,
    )
    (job,) = (await session.scalars(select(LeadSyncQueue))).all()
    assert (job.sync_operation, job.conversation_id) == ("push", conv.id)
    link = (await session.scalars(select(LeadLink))).one()
    # The base is ResMan's value, so the push sees ours as the change to send.
    assert link.base is not None
    assert link.base["email"] == THEIRS


async def test_picking_resmans_side_writes_and_publishes_it(session: AsyncSession) -> None:
    conv, conflict = await _parked(session)

    await resolve_conflict(session, conflict_id=conflict.id, pick="resman", resolved_by="agent")

    await session.refresh(conv)
    assert conv.email == THEIRS
    assert await _rows(session, LeadSyncQueue) == 0  # ResMan already holds it
    events = (await session.scalars(select(RealtimeEvent).order_by(RealtimeEvent.sequence))).all()
    assert [(e.event_type, e.source) for e in events] == [
        ("lead_update", "domiq"),
        ("sync_conflict", "domiq"),
    ]
    assert events[0].data["email"] == THEIRS
    assert (events[1].data["status"], events[1].data["resolved_value"]) == ("resolved", THEIRS)


async def test_dismissing_changes_neither_side(session: AsyncSession) -> None:
    conv, conflict = await _parked(session)

    await dismiss_conflict(session, conflict_id=conflict.id, dismissed_by="agent")

    await session.refresh(conv)
    assert (conv.email, conflict.status, conflict.resolution) == (OURS, "dismissed", "dismissed")
    assert await _rows(session, LeadSyncQueue) == 0


@pytest.mark.parametrize(
    ("choice", "status", "errors"),
    [
        ({"value": "not an email"}, 422, [{"field": "value"}]),
        ({"pick": "both"}, 400, None),
        ({}, 400, None),
    ],
    ids=["invalid-value", "unknown-side", "nothing-chosen"],
)
async def test_a_refused_resolution_writes_nothing(
    session: AsyncSession, choice: dict[str, Any], status: int, errors: list[dict[str, str]] | None
) -> None:
    conv, conflict = await _parked(session)

    with pytest.raises(ConflictError) as raised:
        await resolve_conflict(session, conflict_id=conflict.id, resolved_by="agent", **choice)

    assert raised.value.status == status
    if errors is None:
        assert raised.value.errors is None
    else:
        assert [{"field": e["field"]} for e in raised.value.errors or []] == errors
    await session.refresh(conv)
    await session.refresh(conflict)
    assert (conv.email, conflict.status) == (OURS, "open")
    assert (await _rows(session, LeadSyncQueue), await _rows(session, RealtimeEvent)) == (0, 0)


async def test_a_decided_conflict_cannot_be_decided_again(session: AsyncSession) -> None:
    _, conflict = await _parked(session)
    await dismiss_conflict(session, conflict_id=conflict.id, dismissed_by="agent")

    with pytest.raises(ConflictError) as raised:
        await resolve_conflict(session, conflict_id=conflict.id, pick="domiq", resolved_by="b")

    assert raised.value.status == 409
    assert "already dismissed" in raised.value.detail
