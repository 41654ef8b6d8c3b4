"""Honest conflicts: only true concurrent edits conflict; people resolve what rules leave open."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from leadsync.db.models import Conversation
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.flags import reset_cache, set_push_paused
from stack import Stack, create_synced_lead, lead_body, wait_until


def _digits(value: object) -> str:
    return "".join(c for c in str(value) if c.isdigit())


async def _pause(stack: Stack, paused: bool) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=paused, changed_by="test")
    reset_cache()  # a worker may have cached the switch between the flush and the commit
    if not paused:
        stack.runtime.worker.wake()


async def _drained(stack: Stack) -> bool:
    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return not counts.get("queued") and not counts.get("running")


async def _created(stack: Stack) -> tuple[str, str]:
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    return str(conversation_id), prospect_id


async def _staff(stack: Stack, prospect_id: str, action: str, payload: dict[str, Any]) -> None:
    url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}/{action}"
    (await stack.sandbox.post(url, json=payload)).raise_for_status()


async def _conversation(stack: Stack, conversation_id: str) -> Conversation:
    async with stack.runtime.sessionmaker() as session:
        conv = await session.scalar(
            select(Conversation).where(Conversation.id == uuid.UUID(conversation_id))
        )
    assert conv is not None
    return conv


async def test_one_sided_changes_never_conflict(stack: Stack) -> None:
    conversation_id, prospect_id = await _created(stack)
    # The office edits the email; the chatbot changes the move-in date: different fields.
    await _staff(stack, prospect_id, "contact", {"email": "maria.g@work.example.org"})
    await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"move_in_date": "2027-03-01"},
        headers=stack.auth(stack.a),
    )
    await wait_until(lambda: _drained(stack))
    listed = await stack.api.get("/api/resman/conflicts", headers=stack.auth(stack.a))
    assert listed.json()["conflicts"] == []
    [found] = await stack.resman_prospects(stack.a)
    # The office's email survived our update, and came back to the conversation.
    assert found["email"] == "maria.g@work.example.org"
    assert found["prospect"]["preferences"]["target_move_in_date"] == "2027-03-01"  # type: ignore[index]
    conv = await _conversation(stack, conversation_id)
    assert conv.email == "maria.g@work.example.org"


async def test_concurrent_edit_is_parked_then_resolved_on_both_sides(stack: Stack) -> None:
    conversation_id, prospect_id = await _created(stack)
    await _pause(stack, True)
    await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"phone": "(737) 555-1111"},
        headers=stack.auth(stack.a),
    )
    await _staff(stack, prospect_id, "contact", {"phone": "(512) 555-2222"})
    await _pause(stack, False)
    await wait_until(lambda: _drained(stack))

    listed = await stack.api.get("/api/resman/conflicts", headers=stack.auth(stack.a))
    [conflict] = listed.json()["conflicts"]
    assert conflict["field"] == "phone"
    assert conflict["base_value"] == "+15125550199"
    assert conflict["domiq_value"] == "+17375551111"
    assert conflict["resman_value"] == "+15125552222"
    [before] = await stack.resman_prospects(stack.a)
    assert _digits(before["phone"]).endswith("5125552222"), "the office's value was overwritten"
    # Nobody else can see or resolve it.
    other = await stack.api.get(
        f"/api/resman/conflicts/{conflict['id']}", headers=stack.auth(stack.b)
    )
    assert other.status_code == 404

    resolved = await stack.api.post(
        f"/api/resman/conflicts/{conflict['id']}/resolve",
        json={"pick": "domiq", "resolved_by": "leasing manager"},
        headers=stack.auth(stack.a),
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    await wait_until(lambda: _drained(stack))
    [after] = await stack.resman_prospects(stack.a)
    assert _digits(after["phone"]).endswith("7375551111")
    conv = await _conversation(stack, conversation_id)
    assert conv.phone == "+17375551111"
    again = await stack.api.post(
        f"/api/resman/conflicts/{conflict['id']}/resolve",
        json={"pick": "resman"},
        headers=stack.auth(stack.a),
    )
    assert again.status_code == 409


async def test_status_conflict_follows_priority(stack: Stack) -> None:
    conversation_id, prospect_id = await _created(stack)
    await _staff(
        stack, prospect_id, "status", {"customer_type": "applicant", "event_type": "Application"}
    )
    response = await stack.api.put(
        f"/api/resman/leads/{conversation_id}/status",
        json={"status": "contacted", "updated_by": "chatbot", "sync_direction": "to_resman"},
        headers=stack.auth(stack.a),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # The office's application outranks the chatbot's "contacted".
    if body["sync_conflicts"]:
        assert body["new_status"] == "application"
        assert [c["field"] for c in body["sync_conflicts"]] == ["status"]
    else:
        # On a loaded machine the request's inline attempt may be left to the worker (all
        # inline slots busy: it answers at once); the same decision lands with the job.
        await wait_until(lambda: _drained(stack))
        assert (await _conversation(stack, conversation_id)).status == "application"
    [found] = await stack.resman_prospects(stack.a)
    assert found["status"] == "applicant"


async def test_status_by_resman_prospect_id_from_a_relay(stack: Stack) -> None:
    conversation_id, prospect_id = await _created(stack)
    response = await stack.api.put(
        f"/api/resman/leads/{prospect_id}/status",
        json={
            "status": "tour_scheduled",
            "updated_by": "resman_user",
            "sync_direction": "from_resman",
            "notes": "Called, tour Friday",
        },
        headers=stack.auth(stack.a),
    )
    assert response.status_code == 200, response.text
    assert response.json()["new_status"] == "tour_scheduled"
    conv = await _conversation(stack, conversation_id)
    assert conv.status == "tour_scheduled"
    missing = await stack.api.put(
        "/api/resman/leads/not-a-lead/status",
        json={"status": "lost", "updated_by": "system", "sync_direction": "to_resman"},
        headers=stack.auth(stack.a),
    )
    assert missing.status_code == 404


async def test_merge_links_a_walk_in_with_a_chatbot_lead(stack: Stack) -> None:
    walk_in = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects",
        json={"first_name": "Mary", "last_name": "Gomez-Ruiz", "phone": "(512) 555-7777"},
    )
    prospect_id = walk_in.json()["prospect_id"]
    await _pause(stack, True)
    body = lead_body(stack.a.property_id)
    created = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    conversation_id = created.json()["conversation_id"]
    merged = await stack.api.post(
        "/api/resman/leads/merge",
        json={
            "resman_lead_id": prospect_id,
            "domiq_conversation_id": conversation_id,
            "merge_strategy": "resman_wins",
            "merge_fields": ["first_name", "last_name", "email", "phone"],
            "conflict_resolution": {"last_name": "Gomez"},
        },
        headers=stack.auth(stack.a),
    )
    assert merged.status_code == 200, merged.text
    summary = merged.json()
    assert summary["merged_lead_id"] == prospect_id
    final = summary["merge_summary"]["final_values"]
    assert final["first_name"] == "Mary"  # resman_wins
    assert final["last_name"] == "Gomez"  # explicit value
    assert final["email"] == "maria.gomez@gmail.com"  # ResMan had none: one-sided
    await _pause(stack, False)
    await wait_until(lambda: _drained(stack))
    prospects = await stack.resman_prospects(stack.a)
    assert len(prospects) == 1, "the merge must not leave a duplicate prospect"
    [found] = prospects
    assert (found["first_name"], found["last_name"]) == ("Mary", "Gomez")
    assert found["email"] == "maria.gomez@gmail.com"


async def test_open_conflict_is_not_news_on_every_pull(stack: Stack) -> None:
    conversation_id, prospect_id = await _created(stack)
    await _pause(stack, True)
    await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"occupants_count": 3},
        headers=stack.auth(stack.a),
    )
    # Meanwhile the office changes the same lead's phone: pulled, merged, one-sided.
    await _staff(stack, prospect_id, "contact", {"phone": "(512) 555-3333"})
    # A pull reads up to the last whole second before now - 1 s (ResMan windows have second
    # precision), so a change made just now only shows in a later pull: pull until it does.
    params = {"property_id": str(stack.a.property_id)}
    updated = 0

    async def change_pulled() -> bool:
        nonlocal updated
        first = await stack.api.get(
            "/api/resman/leads/pull", params=params, headers=stack.auth(stack.a)
        )
        assert first.status_code == 200, first.text
        updated += int(first.json()["sync_summary"]["updated_leads"])
        return updated > 0

    await wait_until(change_pulled, interval=0.3)
    assert updated == 1
    second = await stack.api.get(
        "/api/resman/leads/pull", params=params, headers=stack.auth(stack.a)
    )
    summary = second.json()["sync_summary"]
    assert (summary["new_leads"], summary["updated_leads"]) == (0, 0)
    conv = await _conversation(stack, conversation_id)
    assert conv.phone == "+15125553333"
    assert conv.occupants == 3
    await _pause(stack, False)
