"""Every change path appends its event to the realtime log, in order, in its own transaction."""

from __future__ import annotations

from sqlalchemy import select

from leadsync.db.models import RealtimeEvent
from stack import Stack, create_synced_lead, lead_body


async def _events(stack: Stack) -> list[tuple[str, str, dict[str, object]]]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(select(RealtimeEvent).order_by(RealtimeEvent.sequence))
        return [(r.event_type, r.source, r.data) for r in rows]


async def test_push_and_status_change_are_logged_in_order(stack: Stack) -> None:
    # Linked before the status change (the answer may say "pending" when the worker took
    # the push first), so the order of the three events is fixed.
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    changed = await stack.api.put(
        f"/api/resman/leads/{conversation_id}/status",
        json={"status": "contacted", "updated_by": "chatbot", "sync_direction": "to_resman"},
        headers=stack.auth(stack.a),
    )
    assert changed.status_code == 200
    events = await _events(stack)
    kinds = [(kind, source) for kind, source, _ in events]
    assert kinds == [
        ("new_lead", "domiq"),
        ("lead_update", "domiq"),  # the push linked it: subscribers learn the ResMan id
        ("status_change", "domiq"),
    ]
    assert events[1][2]["resman_lead_id"] == prospect_id
    assert all(data["property_id"] == str(stack.a.property_id) for _, _, data in events)


async def test_rejected_input_logs_nothing(stack: Stack) -> None:
    bad = lead_body(stack.a.property_id)
    bad["lead_data"]["email"] = "nope"
    response = await stack.api.post("/api/resman/leads", json=bad, headers=stack.auth(stack.a))
    assert response.status_code == 422
    assert await _events(stack) == []


async def test_score_only_update_is_announced_but_not_pushed(stack: Stack) -> None:
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    conversation_id = created.json()["conversation_id"]
    before = len(await _events(stack))
    patched = await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"lead_score": 95},
        headers=stack.auth(stack.a),
    )
    assert patched.status_code == 200
    events = await _events(stack)
    assert [(kind, source) for kind, source, _ in events[before:]] == [("lead_update", "domiq")]
    assert events[-1][2]["lead_score"] == 95
