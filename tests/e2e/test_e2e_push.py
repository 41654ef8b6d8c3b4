"""Push flow end to end: HTTP API -> outbox -> worker -> real HTTP -> ResMan sandbox."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from stack import Stack, lead_body, synced_prospect, wait_until


async def test_lead_appears_in_resman_with_every_field(stack: Stack) -> None:
    body = lead_body(stack.a.property_id)
    response = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["success"] is True
    # The answer carries ResMan's id when the inline first attempt wins; when the worker
    # claimed the job first (a race, not a failure) it says `pending` and the push finishes.
    assert answer["sync_status"] in ("success", "pending")
    prospect_id = await synced_prospect(stack, answer["conversation_id"])
    if answer["sync_status"] == "success":
        assert answer["resman_lead_id"] == prospect_id
    [found] = await stack.resman_prospects(stack.a)
    assert found["prospect_id"] == prospect_id
    assert (found["first_name"], found["last_name"]) == ("Maria", "Gomez")
    assert found["email"] == "maria.gomez@gmail.com"
    assert found["phone"] in ("+15125550199", "5125550199")
    mits: dict[str, Any] = found["prospect"]  # type: ignore[assignment]
    prefs = mits["preferences"]
    assert prefs["target_move_in_date"] == "2027-01-15"
    assert prefs["bedrooms_exact"] == 2
    assert float(prefs["desired_rent"]["min"]) == 1200
    assert float(prefs["desired_rent"]["max"]) == 1600
    [first] = mits["events"]
    assert first["first_contact"] is True
    assert "Do you allow dogs?" in first["comments"]
    assert "lead score 87/100" in first["comments"]


async def test_same_conversation_twice_is_one_prospect(stack: Stack) -> None:
    body = lead_body(stack.a.property_id)
    first = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    again = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["resman_lead_id"] == again.json()["resman_lead_id"]
    assert len(await stack.resman_prospects(stack.a)) == 1


async def test_idempotency_key_replays_the_same_lead(stack: Stack) -> None:
    headers = {**stack.auth(stack.a), "Idempotency-Key": "retry-7"}
    body = lead_body(stack.a.property_id)
    first = await stack.api.post("/api/resman/leads", json=body, headers=headers)
    again = await stack.api.post("/api/resman/leads", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["conversation_id"] == first.json()["conversation_id"]
    other = dict(body, conversation_id=str(uuid.uuid4()))
    reused = await stack.api.post("/api/resman/leads", json=other, headers=headers)
    assert reused.status_code == 422
    assert len(await stack.resman_prospects(stack.a)) == 1


async def test_existing_walk_in_is_linked_not_duplicated(stack: Stack) -> None:
    walk_in = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects",
        json={"first_name": "Maria", "last_name": "Gomez", "email": "Maria.Gomez@gmail.com"},
    )
    walk_in.raise_for_status()
    response = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    assert response.json()["resman_lead_id"] == walk_in.json()["prospect_id"]
    assert len(await stack.resman_prospects(stack.a)) == 1


async def test_tour_booking_becomes_an_appointment_in_utc(stack: Stack) -> None:
    body = lead_body(stack.a.property_id)
    created = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    conversation_id = created.json()["conversation_id"]
    tour = await stack.api.post(
        f"/api/resman/leads/{conversation_id}/tours",
        json={"tour_datetime": "2026-12-03T14:30:00-06:00", "tour_type": "virtual"},
        headers=stack.auth(stack.a),
    )
    assert tour.status_code == 201, tour.text
    assert tour.json()["sync_status"] in ("success", "pending")
    await synced_prospect(stack, conversation_id)
    [found] = await stack.resman_prospects(stack.a)
    events = found["prospect"]["events"]  # type: ignore[index]
    appointments = [e for e in events if e["event_type"] == "Appointment"]
    assert [a["event_date"][:19] for a in appointments] == ["2026-12-03T20:30:00"]


async def test_contact_update_reaches_resman(stack: Stack) -> None:
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    conversation_id = created.json()["conversation_id"]
    patched = await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"phone": "(737) 555-0142", "email": "none@none.com"},
        headers=stack.auth(stack.a),
    )
    assert patched.status_code == 200, patched.text

    async def phone_changed() -> bool:
        [found] = await stack.resman_prospects(stack.a)
        return found["phone"] in ("+17375550142", "7375550142")

    await wait_until(phone_changed)
    [found] = await stack.resman_prospects(stack.a)
    # The placeholder email never overwrote the real one (overwrite guard).
    assert found["email"] == "maria.gomez@gmail.com"


# A read timeout below the injected hang, so the hangs really time out (and are retried).
@pytest.mark.stack_settings(resman_read_timeout=2.0)
async def test_every_lead_syncs_once_under_faults(stack: Stack) -> None:
    await stack.set_faults(
        seed=7,
        http_error_rate=0.15,
        rate_limit_rate=0.05,
        retry_after_seconds=0.2,
        reset_rate=0.05,
        timeout_rate=0.03,
        hang_seconds=3,
    )
    bodies = [lead_body(stack.a.property_id, n=n) for n in range(30)]
    answers = await asyncio.gather(
        *(stack.api.post("/api/resman/leads", json=b, headers=stack.auth(stack.a)) for b in bodies)
    )
    assert all(a.status_code == 201 for a in answers)
    await stack.set_faults()

    async def all_synced() -> bool:
        return len(await stack.resman_prospects(stack.a)) >= len(bodies) and await _drained(stack)

    await wait_until(all_synced)
    prospects = await stack.resman_prospects(stack.a)
    emails = sorted(str(p["email"]) for p in prospects)
    assert emails == sorted(b["lead_data"]["email"] for b in bodies)


async def _drained(stack: Stack) -> bool:
    from leadsync.sync.queue import repository as queue

    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return counts.get("queued", 0) == 0 and counts.get("running", 0) == 0
