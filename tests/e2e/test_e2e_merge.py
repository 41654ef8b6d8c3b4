"""The merge API does what it answers: explicit values on both sides, no conflicts parked on
fields not named, two pushed records merged into one prospect, ResMan failures as problems."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from leadsync.db.models import Conversation, LeadLink, SyncConflict
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.flags import reset_cache, set_push_paused
from stack import Stack, create_synced_lead, lead_body, wait_until


async def _pause(stack: Stack, paused: bool) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=paused, changed_by="test")
    # A worker may have cached the switch between the flush and the commit.
    reset_cache()
    if not paused:
        stack.runtime.worker.wake()


async def _drained(stack: Stack) -> bool:
    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return not counts.get("queued") and not counts.get("running")


async def _conversation(stack: Stack, conversation_id: str) -> Conversation:
    async with stack.runtime.sessionmaker() as session:
        conv = await session.get(Conversation, uuid.UUID(conversation_id))
    assert conv is not None
    return conv


async def _open_conflicts(stack: Stack) -> list[dict[str, Any]]:
    listed = await stack.api.get("/api/resman/conflicts", headers=stack.auth(stack.a))
    assert listed.status_code == 200, listed.text
    conflicts: list[dict[str, Any]] = listed.json()["conflicts"]
    return conflicts


async def _prospect(stack: Stack, prospect_id: str) -> dict[str, Any]:
    found = [p for p in await stack.resman_prospects(stack.a) if p["prospect_id"] == prospect_id]
    assert len(found) == 1, f"no prospect {prospect_id} in the sandbox"
    return found[0]


async def _walk_in(stack: Stack, **fields: str) -> str:
    answer = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects", json=fields
    )
    answer.raise_for_status()
    prospect_id: str = answer.json()["prospect_id"]
    return prospect_id


async def _staff(stack: Stack, prospect_id: str, action: str, payload: dict[str, Any]) -> None:
    url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}/{action}"
    (await stack.sandbox.post(url, json=payload)).raise_for_status()


async def _merge(stack: Stack, **body: Any) -> Any:
    return await stack.api.post("/api/resman/leads/merge", json=body, headers=stack.auth(stack.a))


async def _pull(stack: Stack) -> dict[str, Any]:
    answer = await stack.api.get(
        "/api/resman/leads/pull",
        params={"property_id": str(stack.a.property_id), "sync_type": "full"},
        headers=stack.auth(stack.a),
    )
    assert answer.status_code == 200, answer.text
    summary: dict[str, Any] = answer.json()["sync_summary"]
    return summary


async def _pushed(stack: Stack, body: dict[str, Any]) -> tuple[str, str]:
    """Post a lead and wait until its push linked it: (conversation id, ProspectID)."""
    created = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert created.status_code in (200, 201), created.text
    conversation_id: str = created.json()["conversation_id"]
    found: list[str] = []

    async def linked() -> bool:
        async with stack.runtime.sessionmaker() as session:
            prospect_id = await session.scalar(
                select(LeadLink.resman_prospect_id).where(
                    LeadLink.conversation_id == uuid.UUID(conversation_id)
                )
            )
        found[:] = [prospect_id] if prospect_id else []
        return bool(found)

    await wait_until(linked)
    return conversation_id, found[0]


async def _chatbot_lead(stack: Stack) -> str:
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    assert created.status_code in (200, 201), created.text
    conversation_id: str = created.json()["conversation_id"]
    return conversation_id


async def _walk_in_and_held_lead(stack: Stack) -> tuple[str, str]:
    """A walk-in already in ResMan and a chatbot lead whose push is held (pushes paused)."""
    prospect_id = await _walk_in(
        stack, first_name="Mary", last_name="Gomez-Ruiz", phone="(512) 555-7777"
    )
    await _pause(stack, True)
    return prospect_id, await _chatbot_lead(stack)


async def test_explicit_values_reach_both_sides_and_each_conflict_counts_once(
    stack: Stack,
) -> None:
    prospect_id, conversation_id = await _walk_in_and_held_lead(stack)
    merged = await _merge(
        stack,
        resman_lead_id=prospect_id,
        domiq_conversation_id=conversation_id,
        merge_strategy="resman_wins",
        merge_fields=["first_name", "last_name", "email", "phone"],
        conflict_resolution={"last_name": "Gomez", "phone": "(737) 555-0123"},
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    final = body["merge_summary"]["final_values"]
    assert final["first_name"] == "Mary"  # resman_wins
    assert final["last_name"] == "Gomez"  # explicit
    assert final["phone"] == "+17375550123"  # explicit, normalised to E.164
    assert final["email"] == "maria.gomez@gmail.com"  # ResMan had none: not a conflict
    # first_name (strategy), last_name and phone (explicit): three conflicts, each once.
    assert body["conflicts_resolved"] == 3
    conv = await _conversation(stack, conversation_id)
    assert (conv.first_name, conv.last_name, conv.phone, conv.email) == (
        "Mary",
        "Gomez",
        "+17375550123",
        "maria.gomez@gmail.com",
    )
    await _pause(stack, False)
    await wait_until(lambda: _drained(stack))
    found = await _prospect(stack, prospect_id)
    assert (found["first_name"], found["last_name"]) == ("Mary", "Gomez")
    assert "".join(c for c in str(found["phone"]) if c.isdigit()).endswith("7375550123")
    assert found["email"] == "maria.gomez@gmail.com"
    assert await _open_conflicts(stack) == []


async def test_a_bad_explicit_value_is_a_422_naming_the_field_and_writes_nothing(
    stack: Stack,
) -> None:
    prospect_id = await _walk_in(stack, first_name="Mary", last_name="Gomez")
    await _pause(stack, True)
    conversation_id = await _chatbot_lead(stack)
    for values, field in [
        ({"email": "maria at gmail"}, "conflict_resolution.email"),
        ({"phone": "555"}, "conflict_resolution.phone"),
        ({"move_in_date": "next week"}, "conflict_resolution.move_in_date"),
        ({"nickname": "Mimi"}, "conflict_resolution.nickname"),
    ]:
        answer = await _merge(
            stack,
            resman_lead_id=prospect_id,
            domiq_conversation_id=conversation_id,
            merge_strategy="resman_wins",
            merge_fields=["email"],
            conflict_resolution=values,
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == [field]
    conv = await _conversation(stack, conversation_id)
    assert conv.email == "maria.gomez@gmail.com"
    async with stack.runtime.sessionmaker() as session:
        links = await session.scalar(
            select(func.count())
            .select_from(LeadLink)
            .where(LeadLink.resman_prospect_id.is_not(None))
        )
    assert links == 0


async def test_fields_not_named_are_held_apart_not_parked_as_conflicts(stack: Stack) -> None:
    prospect_id, conversation_id = await _walk_in_and_held_lead(stack)
    merged = await _merge(
        stack,
        resman_lead_id=prospect_id,
        domiq_conversation_id=conversation_id,
        merge_strategy="manual_review",
        merge_fields=["email"],
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["merge_summary"]["fields_conflicted"] == []
    await _pause(stack, False)
    await wait_until(lambda: _drained(stack))
    await _pull(stack)
    await wait_until(lambda: _drained(stack))
    # Names and phone were not named: each side keeps its own, and nothing is parked.
    assert await _open_conflicts(stack) == []
    conv = await _conversation(stack, conversation_id)
    assert (conv.first_name, conv.last_name, conv.phone) == ("Maria", "Gomez", "+15125550199")
    found = await _prospect(stack, prospect_id)
    assert (found["first_name"], found["last_name"]) == ("Mary", "Gomez-Ruiz")
    assert found["email"] == "maria.gomez@gmail.com"  # the named field was merged
    # A later change on one side is an ordinary one-sided change: taken, no conflict.
    await _staff(stack, prospect_id, "contact", {"last_name": "Ruiz"})

    async def took_office_change() -> bool:
        await _pull(stack)
        return (await _conversation(stack, conversation_id)).last_name == "Ruiz"

    await wait_until(took_office_change)
    assert await _open_conflicts(stack) == []
    assert (await _conversation(stack, conversation_id)).first_name == "Maria"


async def test_a_resman_failure_during_a_merge_is_a_problem_not_a_500(stack: Stack) -> None:
    prospect_id = await _walk_in(stack, first_name="Mary", last_name="Gomez")
    await _pause(stack, True)
    conversation_id = await _chatbot_lead(stack)
    body = {
        "resman_lead_id": prospect_id,
        "domiq_conversation_id": conversation_id,
        "merge_strategy": "resman_wins",
        "merge_fields": ["first_name"],
    }
    await stack.set_faults(
        http_error_rate=1.0, http_error_codes=[503], methods=["MITS/SearchProspects"]
    )
    down = await _merge(stack, **body)
    assert down.status_code == 503, down.text
    assert down.headers["content-type"].startswith("application/problem+json")
    assert int(down.headers["retry-after"]) >= 1
    await stack.set_faults(business_error_rate=1.0, methods=["MITS/SearchProspects"])
    refused = await _merge(stack, **body)
    assert refused.status_code == 502, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert prospect_id in refused.json()["detail"]
    await stack.set_faults()
    async with stack.runtime.sessionmaker() as session:
        linked = await session.scalar(
            select(LeadLink).where(LeadLink.conversation_id == uuid.UUID(conversation_id))
        )
    assert linked is None or linked.resman_prospect_id is None, "a failed merge wrote a link"
    assert (await _merge(stack, **body)).status_code == 200


async def _phone_conflict(stack: Stack) -> tuple[str, str, dict[str, Any]]:
    # The answer may say "pending" when the worker claimed the push first: wait for the link.
    conversation, prospect_id = await create_synced_lead(stack, stack.a)
    conversation_id = str(conversation)
    await _pause(stack, True)
    await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"phone": "(737) 555-1111"},
        headers=stack.auth(stack.a),
    )
    await _staff(stack, prospect_id, "contact", {"phone": "(512) 555-2222"})
    await _pause(stack, False)
    await wait_until(lambda: _drained(stack))
    [conflict] = await _open_conflicts(stack)
    assert conflict["field"] == "phone"
    return conversation_id, prospect_id, conflict


async def test_resolving_with_a_value_checks_it_and_leaves_both_sides_equal(
    stack: Stack,
) -> None:
    conversation_id, prospect_id, conflict = await _phone_conflict(stack)
    url = f"/api/resman/conflicts/{conflict['id']}/resolve"
    for bad in ["maria at gmail", "555", 5125550100]:
        refused = await stack.api.post(url, json={"value": bad}, headers=stack.auth(stack.a))
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["value"]
    assert [c["id"] for c in await _open_conflicts(stack)] == [conflict["id"]]
    assert (await _conversation(stack, conversation_id)).phone == "+17375551111"

    resolved = await stack.api.post(
        url, json={"value": "(737) 555-4444"}, headers=stack.auth(stack.a)
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_value"] == "+17375554444"
    await wait_until(lambda: _drained(stack))
    found = await _prospect(stack, prospect_id)
    assert "".join(c for c in str(found["phone"]) if c.isdigit()).endswith("7375554444")
    assert (await _conversation(stack, conversation_id)).phone == "+17375554444"
    await _pull(stack)
    await wait_until(lambda: _drained(stack))
    assert await _open_conflicts(stack) == []
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalar(select(func.count()).select_from(SyncConflict))
    assert rows == 1, "the pull after the resolution raised a new conflict"


async def _links_to(stack: Stack, prospect_id: str) -> set[uuid.UUID]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(LeadLink.conversation_id).where(LeadLink.resman_prospect_id == prospect_id)
        )
        return set(rows.all())


async def _stored_from_resman(stack: Stack) -> list[Conversation]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(Conversation).where(
                Conversation.property_id == stack.a.property_id, Conversation.source == "resman"
            )
        )
        return list(rows.all())


def _lost_mark(found: dict[str, Any], merged_into: str) -> bool:
    events = found["prospect"]["events"]
    return found["status"] == "lost" and any(
        e["event_type"] == "Cancel" and f"Duplicate of {merged_into}" in (e.get("comments") or "")
        for e in events
    )


async def test_a_walk_in_and_a_pushed_chatbot_lead_merge_into_one_prospect(
    stack: Stack,
) -> None:
    walk_in = await _walk_in(
        stack, first_name="Mary", last_name="Gomez-Ruiz", phone="(512) 555-7777"
    )

    async def stored() -> bool:
        # A pull reads up to a second before now: the new walk-in shows up a moment later.
        await _pull(stack)
        return len(await _stored_from_resman(stack)) == 1

    await wait_until(stored)
    [copy] = await _stored_from_resman(stack)  # the walk-in, stored as its own lead
    conversation_id, own = await _pushed(stack, lead_body(stack.a.property_id))
    assert own != walk_in  # pushed as its own prospect

    merged = await _merge(
        stack,
        resman_lead_id=walk_in,
        domiq_conversation_id=conversation_id,
        merge_strategy="domiq_wins",
        merge_fields=["first_name", "last_name", "email", "phone"],
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged_lead_id"] == walk_in
    assert await _links_to(stack, walk_in) == {uuid.UUID(conversation_id)}
    assert await _links_to(stack, own) == set()
    retired = await _conversation(stack, str(copy.id))
    assert (retired.context or {})["merged_into"] == conversation_id
    await wait_until(lambda: _drained(stack))

    # The surplus prospect is marked lost with the reason, never deleted.
    surplus = await _prospect(stack, own)
    assert _lost_mark(surplus, walk_in), surplus["prospect"]["events"]
    target = await _prospect(stack, walk_in)
    assert (target["first_name"], target["last_name"], target["email"]) == (
        "Maria",
        "Gomez",
        "maria.gomez@gmail.com",
    )
    # The next pull sees the lost prospect changed: it is not stored as a new lead.
    summary = await _pull(stack)
    assert summary["new_leads"] == 0, summary
    assert [c.id for c in await _stored_from_resman(stack)] == [copy.id]
    assert await _open_conflicts(stack) == []
    assert (await _conversation(stack, conversation_id)).status != "lost"


async def test_merging_a_possible_duplicate_resolves_its_duplicate_lead_conflict(
    stack: Stack,
) -> None:
    first_conv, first_prospect = await _pushed(stack, lead_body(stack.a.property_id))
    # Same phone, another name and email: the duplicate check cannot tell (a roommate? a
    # married name?), so the lead gets its own prospect and a duplicate_lead conflict.
    again = lead_body(stack.a.property_id, n=7)
    again["lead_data"].update(
        first_name="Mary", last_name="Smith", email="mary.smith@yahoo.com", phone="(512) 555-0199"
    )
    second_conv, second_prospect = await _pushed(stack, again)
    assert first_prospect != second_prospect
    duplicates: list[dict[str, Any]] = []

    async def flagged() -> bool:
        duplicates[:] = [
            c for c in await _open_conflicts(stack) if c["conflict_type"] == "duplicate_lead"
        ]
        return bool(duplicates)

    await wait_until(flagged)
    [conflict] = duplicates
    assert (conflict["conversation_id"], conflict["other_prospect_id"]) == (
        second_conv,
        first_prospect,
    )
    # A person decides they are one: the new conversation is merged into the first prospect.
    merged = await _merge(
        stack,
        resman_lead_id=first_prospect,
        domiq_conversation_id=second_conv,
        merge_strategy="resman_wins",
        merge_fields=["first_name"],
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["conflicts_resolved"] >= 1
    shown = await stack.api.get(
        f"/api/resman/conflicts/{conflict['id']}", headers=stack.auth(stack.a)
    )
    assert (shown.json()["status"], shown.json()["resolution"]) == ("resolved", "merged")
    # Both conversations are the one person now, in one prospect; the other one is lost.
    assert await _links_to(stack, first_prospect) == {
        uuid.UUID(first_conv),
        uuid.UUID(second_conv),
    }
    await wait_until(lambda: _drained(stack))
    assert _lost_mark(await _prospect(stack, second_prospect), first_prospect)
    assert (await _conversation(stack, second_conv)).first_name == "Maria"
    assert await _open_conflicts(stack) == []
