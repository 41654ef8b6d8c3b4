"""One person, one prospect: a person who chats again is the same ResMan prospect; a phone
shared by different people is a possible duplicate, never a link. Through the real API, the
real worker and the ResMan sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue
from leadsync.db.types import utcnow
from leadsync.sync.push.record import push_lead
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.flags import set_push_paused
from leadsync.sync.runner import Outcome
from stack import Stack, claim_behind_the_switch, lead_body, wait_until


async def _post(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    """Post a new lead and wait for its push to settle (never a guess at how fast it goes);
    ``resman_lead_id`` is then the prospect its link holds."""
    response = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert response.status_code == 201, response.text
    await wait_until(lambda: _drained(stack), within=60)
    answer: dict[str, Any] = response.json()
    async with stack.runtime.sessionmaker() as session:
        answer["resman_lead_id"] = await session.scalar(
            select(LeadLink.resman_prospect_id).where(
                LeadLink.conversation_id == uuid.UUID(answer["conversation_id"])
            )
        )
    return answer


async def _answer(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    """What the API answers for a lead it has (the same body posted again)."""
    again = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert again.status_code == 200, again.text
    answer: dict[str, Any] = again.json()
    return answer


def _again(
    body: dict[str, Any], *, message: str = "Back again: is the 2br still free?", **lead: Any
) -> dict[str, Any]:
    """The same person (unless ``lead`` says otherwise) in a NEW conversation."""
    data = {**body["lead_data"], "initial_message": message, **lead}
    return {"conversation_id": str(uuid.uuid4()), "lead_data": data}


async def _drained(stack: Stack) -> bool:
    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return not counts.get("queued") and not counts.get("running")


async def _dead_jobs(stack: Stack) -> list[str | None]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(LeadSyncQueue.last_error).where(LeadSyncQueue.state == "dead")
        )
        return list(rows)


async def _conversation(stack: Stack, conversation_id: str) -> Conversation:
    async with stack.runtime.sessionmaker() as session:
        conv = await session.get(Conversation, uuid.UUID(conversation_id))
    assert conv is not None
    return conv


def _events(prospect: dict[str, object]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = prospect["prospect"]["events"]  # type: ignore[index]
    return events


async def test_returning_email_is_the_same_prospect_with_a_new_chat_event(stack: Stack) -> None:
    first_body = lead_body(stack.a.property_id)
    first = await _post(stack, first_body)
    # Same email, new conversation, a new budget and an email typed in capitals.
    second_body = _again(
        first_body, email="Maria.Gomez@Gmail.com", budget_range={"min": 1300, "max": 1700}
    )
    second = await _post(stack, second_body)

    assert second["resman_lead_id"] == first["resman_lead_id"]
    answer = await _answer(stack, second_body)
    assert (answer["sync_status"], answer["resman_lead_id"]) == ("success", first["resman_lead_id"])
    assert await _dead_jobs(stack) == []
    [prospect] = await stack.resman_prospects(stack.a)
    events = _events(prospect)
    chats = [e for e in events if "New chat" in (e.get("comments") or "")]
    assert len(chats) == 1
    assert chats[0]["event_type"] == "Contact"
    assert chats[0]["first_contact"] is False
    assert "Back again: is the 2br still free?" in chats[0]["comments"]
    assert "Conversation summary:" in chats[0]["comments"]
    assert sum(1 for e in events if e["first_contact"]) == 1
    # The new chat's real change (budget) reached ResMan through the merge.
    prefs = prospect["prospect"]["preferences"]  # type: ignore[index]
    assert (float(prefs["desired_rent"]["min"]), float(prefs["desired_rent"]["max"])) == (
        1300,
        1700,
    )
    async with stack.runtime.sessionmaker() as session:
        links = (await session.scalars(select(LeadLink))).all()
    assert {link.resman_prospect_id for link in links} == {first["resman_lead_id"]}
    assert len(links) == 2


async def test_returning_person_keeps_office_changes_and_sees_resman_state(stack: Stack) -> None:
    first_body = lead_body(stack.a.property_id)
    first = await _post(stack, first_body)
    prospect_id = first["resman_lead_id"]
    prospect_url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}"
    # The office corrected the phone meanwhile; the new chat still gives the old one.
    staff = await stack.sandbox.post(f"{prospect_url}/contact", json={"phone": "(737) 555-0142"})
    staff.raise_for_status()
    second = await _post(stack, _again(first_body, move_in_date="2027-02-01"))
    assert second["resman_lead_id"] == prospect_id

    [prospect] = await stack.resman_prospects(stack.a)
    # Only real changes flowed: the office's phone stays, the new move-in date arrived.
    assert "".join(c for c in str(prospect["phone"]) if c.isdigit()).endswith("7375550142")
    prefs = prospect["prospect"]["preferences"]  # type: ignore[index]
    assert prefs["target_move_in_date"] == "2027-02-01"
    conv = await _conversation(stack, second["conversation_id"])
    assert conv.phone == "+17375550142"

    # An office change reaches EVERY conversation of the person.
    tour = await stack.sandbox.post(f"{prospect_url}/tours", json={"start": "2027-01-05T16:00:00Z"})
    tour.raise_for_status()

    async def both_see_the_tour() -> bool:
        # Incremental pulls: a change is inside the window once its second is over.
        pulled = await stack.api.get(
            "/api/resman/leads/pull",
            params={"property_id": str(stack.a.property_id)},
            headers=stack.auth(stack.a),
        )
        assert pulled.status_code == 200, pulled.text
        convs = [await _conversation(stack, c["conversation_id"]) for c in (first, second)]
        return all(
            c.status == "tour_scheduled"
            and (c.context or {}).get("resman", {}).get("resman_prospect_id") == prospect_id
            and (c.context or {}).get("resman", {}).get("tour_time_utc")
            for c in convs
        )

    await wait_until(both_see_the_tour, within=60, interval=0.3)
    assert await _dead_jobs(stack) == []


async def test_returning_phone_with_compatible_name_is_the_same_prospect(stack: Stack) -> None:
    first_body = lead_body(stack.a.property_id)
    first = await _post(stack, first_body)
    # No email this time; the same phone written differently; accents and case differ.
    second = await _post(
        stack,
        _again(
            first_body, email=None, phone="+1 512 555 0199", first_name="MARÍA", last_name="gómez"
        ),
    )
    assert second["resman_lead_id"] == first["resman_lead_id"]
    assert len(await stack.resman_prospects(stack.a)) == 1
    assert await _dead_jobs(stack) == []


async def test_shared_phone_with_another_name_is_its_own_prospect_and_a_duplicate_conflict(
    stack: Stack,
) -> None:
    mother_body = lead_body(stack.a.property_id)
    mother = await _post(stack, mother_body)
    # Her roommate: same phone, her own name and email. A phone alone never links.
    roommate = await _post(
        stack,
        _again(mother_body, first_name="Aisha", last_name="Khan", email="aisha.khan@yahoo.com"),
    )
    assert roommate["resman_lead_id"] not in (None, mother["resman_lead_id"])
    prospects = await stack.resman_prospects(stack.a)
    assert sorted(str(p["last_name"]) for p in prospects) == ["Gomez", "Khan"]

    listed = await stack.api.get("/api/resman/conflicts", headers=stack.auth(stack.a))
    assert listed.status_code == 200, listed.text
    [conflict] = listed.json()["conflicts"]
    assert conflict["conflict_type"] == "duplicate_lead"
    assert conflict["conversation_id"] == roommate["conversation_id"]
    assert conflict["other_prospect_id"] == mother["resman_lead_id"]
    assert conflict["other_conversation_id"] == mother["conversation_id"]
    ours, other = conflict["domiq_value"], conflict["resman_value"]
    assert (ours["resman_prospect_id"], ours["last_name"]) == (roommate["resman_lead_id"], "Khan")
    assert (other["resman_prospect_id"], other["last_name"]) == (mother["resman_lead_id"], "Gomez")
    assert ours["phone"] == other["phone"] == "+15125550199"

    # Another property's key neither sees nor dismisses it.
    url = f"/api/resman/conflicts/{conflict['id']}"
    assert (await stack.api.get(url, headers=stack.auth(stack.b))).status_code == 404
    denied = await stack.api.post(f"{url}/dismiss", headers=stack.auth(stack.b))
    assert denied.status_code == 404
    # It is not a field to pick a side of.
    picked = await stack.api.post(
        f"{url}/resolve", json={"pick": "resman"}, headers=stack.auth(stack.a)
    )
    assert picked.status_code == 409

    dismissed = await stack.api.post(
        f"{url}/dismiss", json={"dismissed_by": "office"}, headers=stack.auth(stack.a)
    )
    assert dismissed.status_code == 200, dismissed.text
    assert (dismissed.json()["status"], dismissed.json()["resolved_by"]) == ("dismissed", "office")
    again = await stack.api.post(f"{url}/dismiss", headers=stack.auth(stack.a))
    assert again.status_code == 409
    still_open = await stack.api.get("/api/resman/conflicts", headers=stack.auth(stack.a))
    assert still_open.json()["conflicts"] == []
    await wait_until(lambda: _drained(stack))
    assert await _dead_jobs(stack) == []


async def _crash_then_retry(stack: Stack) -> Outcome:
    """A worker pushes the queued job, ResMan accepts, the process dies before its commit;
    after the lease another worker runs the job again."""
    runner = stack.runtime.runner
    job = await claim_behind_the_switch(stack, worker_id="doomed", lease=timedelta(seconds=5))
    async with stack.runtime.sessionmaker() as session:
        async with session.begin():
            target = await runner.targets.get(session, integration_id=stack.a.integration_id)
        await session.begin()
        await push_lead(session, job=job, target=target)
        await session.rollback()
    again = await claim_behind_the_switch(
        stack,
        worker_id=runner.worker_id,
        lease=timedelta(seconds=30),
        now=utcnow() + timedelta(seconds=6),
    )
    return await runner.run(again)


async def test_crash_after_resman_accepted_a_returning_link_posts_nothing_twice(
    stack: Stack,
) -> None:
    first_body = lead_body(stack.a.property_id)
    first = await _post(stack, first_body)
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=True, changed_by="test")
    second = _again(first_body, move_in_date="2027-02-01")
    response = await stack.api.post("/api/resman/leads", json=second, headers=stack.auth(stack.a))
    assert response.status_code == 201, response.text
    outcome = await _crash_then_retry(stack)

    assert outcome.state == "succeeded"
    assert outcome.resman_lead_id == first["resman_lead_id"]
    [prospect] = await stack.resman_prospects(stack.a)
    chats = [e for e in _events(prospect) if "New chat" in (e.get("comments") or "")]
    assert len(chats) == 1
    async with stack.runtime.sessionmaker() as session:
        link = await session.scalar(
            select(LeadLink).where(LeadLink.conversation_id == uuid.UUID(second["conversation_id"]))
        )
    assert link is not None
    assert link.resman_prospect_id == first["resman_lead_id"]
    assert link.base["move_in_date"] == "2027-02-01"


async def test_retried_create_sharing_a_phone_still_records_the_possible_duplicate(
    stack: Stack,
) -> None:
    mother_body = lead_body(stack.a.property_id)
    mother = await _post(stack, mother_body)
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=True, changed_by="test")
    roommate = _again(mother_body, first_name="Aisha", last_name="Khan", email=None)
    response = await stack.api.post("/api/resman/leads", json=roommate, headers=stack.auth(stack.a))
    assert response.status_code == 201, response.text
    outcome = await _crash_then_retry(stack)

    assert outcome.state == "succeeded"
    prospects = await stack.resman_prospects(stack.a)
    assert sorted(str(p["last_name"]) for p in prospects) == ["Gomez", "Khan"]
    listed = await stack.api.get("/api/resman/conflicts", headers=stack.auth(stack.a))
    [conflict] = listed.json()["conflicts"]
    assert conflict["conversation_id"] == roommate["conversation_id"]
    assert conflict["other_prospect_id"] == mother["resman_lead_id"]
    assert conflict["domiq_value"]["resman_prospect_id"] == outcome.resman_lead_id
