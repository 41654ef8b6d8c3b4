"""Status, notes and lost reasons survive the round trip DomIQ -> ResMan -> poll -> DomIQ.

ResMan derives a status from its customer type and latest events and cannot hold
"qualified" at all; a quiet poll must not turn our status into what ResMan derives, while a
real office change (a tour, an application, a Cancel) still wins. Every test runs through
the real sandbox over HTTP, on SQLite and on PostgreSQL, and waits for states, never times.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from leadsync.db.models import Conversation, LeadLink
from leadsync.sync.queue import repository as queue
from stack import Stack, lead_body, wait_until

WITHIN = 90.0


async def _drained(stack: Stack) -> bool:
    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return not counts.get("queued") and not counts.get("running")


async def _conversation(stack: Stack, conversation_id: str) -> Conversation:
    async with stack.runtime.sessionmaker() as session:
        conv = await session.get(Conversation, uuid.UUID(conversation_id))
    assert conv is not None
    return conv


async def _prospect_id(stack: Stack, conversation_id: str) -> str | None:
    async with stack.runtime.sessionmaker() as session:
        found: str | None = await session.scalar(
            select(LeadLink.resman_prospect_id).where(
                LeadLink.conversation_id == uuid.UUID(conversation_id)
            )
        )
    return found


async def _lead(stack: Stack, n: int) -> tuple[str, str]:
    """A chatbot lead, pushed and linked (waits for the link, however long the push takes)."""
    answer = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id, n=n), headers=stack.auth(stack.a)
    )
    assert answer.status_code in (200, 201), answer.text
    conversation_id = str(answer.json()["conversation_id"])

    async def linked() -> bool:
        return await _prospect_id(stack, conversation_id) is not None

    await wait_until(linked, within=WITHIN)
    prospect_id = await _prospect_id(stack, conversation_id)
    assert prospect_id is not None
    return conversation_id, prospect_id


async def _put_status(stack: Stack, conversation_id: str, **body: Any) -> dict[str, Any]:
    response = await stack.api.put(
        f"/api/resman/leads/{conversation_id}/status",
        json={"updated_by": "chatbot", "sync_direction": "to_resman", **body},
        headers=stack.auth(stack.a),
    )
    assert response.status_code == 200, response.text
    await wait_until(lambda: _drained(stack), within=WITHIN)
    answer: dict[str, Any] = response.json()
    return answer


async def _office(stack: Stack, prospect_id: str, action: str, payload: dict[str, Any]) -> None:
    url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}/{action}"
    (await stack.sandbox.post(url, json=payload)).raise_for_status()


async def _poll_until(stack: Stack, conversation_id: str, done: Any) -> None:
    """Incremental pulls (the poller's path) until the conversation satisfies ``done``."""

    async def check() -> bool:
        response = await stack.api.get(
            "/api/resman/leads/pull",
            params={"property_id": str(stack.a.property_id)},
            headers=stack.auth(stack.a),
        )
        assert response.status_code == 200, response.text
        return bool(done(await _conversation(stack, conversation_id)))

    await wait_until(check, within=WITHIN, interval=0.3)


async def _quiet_poll(stack: Stack, conversation_id: str, prospect_id: str, n: int) -> None:
    """The office edits only the email (no event, nothing about the status); waits until a
    poll has brought that edit over, so the poll has certainly applied the prospect."""
    marker = f"marker{n}@office.example.org"
    await _office(stack, prospect_id, "contact", {"email": marker})
    await _poll_until(stack, conversation_id, lambda conv: conv.email == marker)


async def _events(stack: Stack, prospect_id: str) -> list[dict[str, Any]]:
    response = await stack.sandbox.get(
        f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}"
    )
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["prospect"]["events"]
    return events


async def test_each_status_survives_a_poll_when_the_office_did_nothing(stack: Stack) -> None:
    conversation_id, prospect_id = await _lead(stack, 1)
    sequence = [
        "contacted",
        "qualified",
        "tour_scheduled",
        "new",
        "qualified",
        "application",
        "leased",
        "lost",
        "new",
    ]
    for step, wanted in enumerate(sequence):
        answer = await _put_status(stack, conversation_id, status=wanted)
        assert answer["new_status"] == wanted
        await _quiet_poll(stack, conversation_id, prospect_id, step)
        conv = await _conversation(stack, conversation_id)
        assert conv.status == wanted, f"step {step}: {wanted} became {conv.status} on a poll"


async def test_real_office_changes_still_win_over_a_status_resman_cannot_hold(
    stack: Stack,
) -> None:
    conversation_id, prospect_id = await _lead(stack, 2)
    await _put_status(stack, conversation_id, status="qualified")
    # Office activity that is no status change: a follow-up call and a note.
    await _office(
        stack,
        prospect_id,
        "status",
        {"customer_type": "prospect", "event_type": "CallToProspect", "comments": "Left a VM"},
    )
    await _office(stack, prospect_id, "notes", {"text": "Prefers mornings"})
    await _quiet_poll(stack, conversation_id, prospect_id, 1)
    assert (await _conversation(stack, conversation_id)).status == "qualified"

    tour = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await _office(stack, prospect_id, "tours", {"start": tour.isoformat()})
    await _poll_until(stack, conversation_id, lambda conv: conv.status == "tour_scheduled")

    # ResMan still derives "tour_scheduled" from the first tour: a second one is news all
    # the same.
    await _put_status(stack, conversation_id, status="qualified")
    await _quiet_poll(stack, conversation_id, prospect_id, 2)
    assert (await _conversation(stack, conversation_id)).status == "qualified"
    await _office(stack, prospect_id, "tours", {"start": (tour + timedelta(days=1)).isoformat()})
    await _poll_until(stack, conversation_id, lambda conv: conv.status == "tour_scheduled")

    await _put_status(stack, conversation_id, status="qualified")
    await _quiet_poll(stack, conversation_id, prospect_id, 3)
    assert (await _conversation(stack, conversation_id)).status == "qualified"
    await _office(stack, prospect_id, "lost", {"reason": "Price too high"})
    await _poll_until(stack, conversation_id, lambda conv: conv.status == "lost")
    await _office(
        stack, prospect_id, "status", {"customer_type": "applicant", "event_type": "Application"}
    )
    await _poll_until(stack, conversation_id, lambda conv: conv.status == "application")


async def _noted(stack: Stack, prospect_id: str, text: str) -> bool:
    return any(text in (e.get("comments") or "") for e in await _events(stack, prospect_id))


async def test_a_note_with_an_unchanged_status_reaches_resman(stack: Stack) -> None:
    conversation_id, prospect_id = await _lead(stack, 3)
    same = await _put_status(
        stack, conversation_id, status="new", notes="Asked about covered parking"
    )
    assert same["new_status"] == "new"
    await wait_until(
        lambda: _noted(stack, prospect_id, "Asked about covered parking"), within=WITHIN
    )
    [note] = [
        e
        for e in await _events(stack, prospect_id)
        if "Asked about covered parking" in (e.get("comments") or "")
    ]
    assert note["event_type"] == "Other"


async def test_a_note_with_a_status_the_office_overrules_reaches_resman(stack: Stack) -> None:
    conversation_id, prospect_id = await _lead(stack, 6)
    # The office moves the lead to applicant; our "contacted" loses the status merge, but
    # its note still reaches the office.
    await _office(
        stack, prospect_id, "status", {"customer_type": "applicant", "event_type": "Application"}
    )
    await _put_status(stack, conversation_id, status="contacted", notes="Prefers texts after 6pm")
    # The push's merge kept the office's status (_put_status waited for the push).
    assert (await _conversation(stack, conversation_id)).status == "application"
    await wait_until(lambda: _noted(stack, prospect_id, "Prefers texts after 6pm"), within=WITHIN)
    [found] = [p for p in await stack.resman_prospects(stack.a) if p["prospect_id"] == prospect_id]
    assert found["status"] == "applicant"


async def test_an_unknown_lost_reason_is_never_replaced_by_an_invented_one(
    stack: Stack,
) -> None:
    conversation_id, prospect_id = await _lead(stack, 4)
    answer = await _put_status(
        stack, conversation_id, status="lost", lost_reason="Moved in with her parents"
    )
    assert answer["new_status"] == "lost"
    assert answer["lost_reason_used"] == "Other"
    [warning] = answer["warnings"]
    assert "Moved in with her parents" in warning

    async def cancelled() -> list[dict[str, Any]]:
        return [e for e in await _events(stack, prospect_id) if e["event_type"] == "Cancel"]

    async def has_cancel() -> bool:
        return bool(await cancelled())

    await wait_until(has_cancel, within=WITHIN)
    [cancel] = await cancelled()
    assert cancel["event_reasons"] == "Prospect Lost: Other"
    assert "Moved in with her parents" in (cancel["comments"] or "")

    close_id, close_prospect = await _lead(stack, 5)
    close = await _put_status(stack, close_id, status="lost", lost_reason="  rented ELSEWHERE ")
    assert close["lost_reason_used"] == "Rented elsewhere"
    assert close["warnings"] == []

    async def close_cancel() -> bool:
        return any(
            e["event_type"] == "Cancel" and e["event_reasons"] == "Prospect Lost: Rented elsewhere"
            for e in await _events(stack, close_prospect)
        )

    await wait_until(close_cancel, within=WITHIN)
