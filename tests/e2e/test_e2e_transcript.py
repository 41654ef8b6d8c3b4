"""Issue 11: the whole chat reaches ResMan as a batched transcript (exactly once, also under
injected faults, within ResMan's comment size, filtered by the privacy setting), the office's
notes reach the chatbot's context and the lead history, never echoing our own transcript.
Through the real API, the real worker and the ResMan sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from websockets.asyncio.client import connect

from leadsync.db.models import ChatMessage, Conversation, LeadSyncQueue, ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.mapping.to_resman import MAX_COMMENT_CHARS
from leadsync.observability.state import read_state
from leadsync.sync.queue import repository as queue
from stack import (
    PATIENCE,
    Stack,
    Tenant,
    create_synced_lead,
    lead_body,
    synced_prospect,
    wait_until,
)

TOPICS = [
    "Is covered parking included, or is it extra each month?",
    "We have a 40 lb dog, a very calm lab. Is there a weight limit or pet rent?",
    "Could I move in on January 5th instead of the 15th? My lease ends early.",
    "Is the second bedroom big enough for a queen bed and a desk?",
    "How far is it to the downtown office by bike, roughly?",
]


def chat(n: int, *, start: datetime | None = None, prefix: str = "m") -> list[dict[str, Any]]:
    """``n`` chat messages alternating prospect / assistant, a minute apart, each unique."""
    start = start or datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    return [
        {
            "id": f"{prefix}{i:03d}",
            "role": "prospect" if i % 2 == 0 else "assistant",
            "text": f"({prefix}{i:03d}) {TOPICS[i % len(TOPICS)]}"
            if i % 2 == 0
            else f"({prefix}{i:03d}) Good question! Let me check that for you: {TOPICS[i % 5]}",
            "sent_at": (start + timedelta(minutes=i)).isoformat(),
        }
        for i in range(n)
    ]


async def post_messages(
    stack: Stack, conversation_id: uuid.UUID, body: dict[str, Any], *, tenant: Tenant | None = None
) -> Any:
    return await stack.api.post(
        f"/api/resman/leads/{conversation_id}/messages",
        json=body,
        headers=stack.auth(tenant or stack.a),
    )


async def transcript_jobs(stack: Stack, conversation_id: uuid.UUID) -> list[LeadSyncQueue]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(LeadSyncQueue).where(LeadSyncQueue.lead_key == f"transcript:{conversation_id}")
        )
        return list(rows)


async def all_pushed(stack: Stack, conversation_id: uuid.UUID) -> bool:
    jobs = await transcript_jobs(stack, conversation_id)
    async with stack.runtime.sessionmaker() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.conversation_id == conversation_id, ChatMessage.pushed_at.is_(None))
        )
    return waiting == 0 and all(job.state == "succeeded" for job in jobs)


async def prospect_events(stack: Stack, tenant: Tenant, prospect_id: str) -> list[dict[str, Any]]:
    response = await stack.sandbox.get(
        f"/admin/properties/{tenant.resman_property_id}/prospects/{prospect_id}"
    )
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["prospect"]["events"]
    return events


def transcript_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if (e.get("comments") or "").startswith("DomIQ chat transcript")]


def assert_exactly_once(events: list[dict[str, Any]], messages: list[dict[str, Any]]) -> None:
    """Every message's line is in ResMan exactly once; no part was posted twice."""
    parts = transcript_events(events)
    headers = [e["comments"].split("\n", 1)[0] for e in parts]
    assert len(headers) == len(set(headers)), headers
    text = "\n".join(e["comments"] for e in parts)
    for message in messages:
        assert text.count(f"({message['id']})") == 1, message["id"]
    assert all(len(e["comments"]) <= MAX_COMMENT_CHARS for e in parts)


async def set_transcript_mode(stack: Stack, tenant: Tenant, mode: str) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == tenant.integration_id)
            .values(sync_settings={"transcript": mode}, updated_at=utcnow())
        )


@pytest.mark.stack_settings(transcript_batch_seconds=2.0)
async def test_forty_messages_arrive_as_one_readable_transcript_once(stack: Stack) -> None:
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    messages = chat(40)
    for i in range(0, 40, 10):  # a burst: four requests within the batch window
        answer = await post_messages(stack, conversation_id, {"messages": messages[i : i + 10]})
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 10
    await wait_until(lambda: all_pushed(stack, conversation_id))

    events = await prospect_events(stack, stack.a, prospect_id)
    assert_exactly_once(events, messages)
    parts = transcript_events(events)
    # A handful of Contact events, not one per line; in order, each naming its part.
    assert 1 <= len(parts) <= 6, len(parts)
    assert {e["event_type"] for e in parts} == {"Contact"}
    first = parts[0]["comments"].split("\n")
    assert first[0].endswith(f"part 1/{len(parts)})"), first[0]
    assert first[1].startswith("[2026-12-03 15:00 UTC] Prospect: (m000) Is covered parking")
    assert first[2].startswith("[2026-12-03 15:01 UTC] DomIQ assistant: (m001)")
    # The burst joined one job (the batch window), which logged its success.
    jobs = await transcript_jobs(stack, conversation_id)
    assert len(jobs) == 1, [(j.state, j.created_at) for j in jobs]

    # Posting the same messages again changes nothing (idempotent by message id).
    again = await post_messages(stack, conversation_id, {"messages": messages[:10]})
    assert again.status_code == 202, again.text
    assert again.json() | {"transcript_job_id": None} == {
        "success": True,
        "conversation_id": str(conversation_id),
        "accepted": 0,
        "duplicates": 10,
        "transcript_job_id": None,
    }
    assert len(await transcript_jobs(stack, conversation_id)) == 1


@pytest.mark.stack_settings(transcript_batch_seconds=0.5, resman_read_timeout=2.0)
async def test_transcript_is_posted_exactly_once_under_faults(stack: Stack) -> None:
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    await stack.set_faults(
        seed=11,
        http_error_rate=0.2,
        rate_limit_rate=0.05,
        retry_after_seconds=0.2,
        reset_rate=0.1,
        timeout_rate=0.15,
        hang_seconds=3,
    )
    messages = chat(40)
    for i in range(0, 40, 5):
        answer = await post_messages(stack, conversation_id, {"messages": messages[i : i + 5]})
        assert answer.status_code == 202, answer.text
    await wait_until(lambda: all_pushed(stack, conversation_id))
    stats = (await stack.sandbox.get("/admin/stats")).json()
    await stack.set_faults()
    assert sum(stats["faults_injected"].values()) > 0, stats
    assert_exactly_once(await prospect_events(stack, stack.a, prospect_id), messages)


@pytest.mark.stack_settings(transcript_batch_seconds=0.2)
async def test_long_messages_are_split_to_fit_comments(stack: Stack) -> None:
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    words = " ".join(f"word{i}" for i in range(900))  # ~7,000 characters in one message
    body = {
        "messages": [
            {"id": "long", "role": "prospect", "text": words, "sent_at": "2026-12-03T15:00:00Z"}
        ]
    }
    assert (await post_messages(stack, conversation_id, body)).status_code == 202
    await wait_until(lambda: all_pushed(stack, conversation_id))
    parts = transcript_events(await prospect_events(stack, stack.a, prospect_id))
    assert len(parts) >= 4
    assert all(len(e["comments"]) <= MAX_COMMENT_CHARS for e in parts)
    joined = " ".join(e["comments"] for e in parts)
    assert all(f"word{i} " in joined + " " for i in range(900))
    assert "(cont.)" in parts[1]["comments"]


@pytest.mark.stack_settings(transcript_batch_seconds=0.2)
@pytest.mark.parametrize("mode", ["prospect_only", "summary_only"])
async def test_privacy_modes(stack: Stack, mode: str) -> None:
    await set_transcript_mode(stack, stack.a, mode)
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    messages = chat(6)
    body = {"messages": messages, "transcript_summary": "Wants parking; dog OK.", "lead_score": 91}
    assert (await post_messages(stack, conversation_id, body)).status_code == 202
    await wait_until(lambda: all_pushed(stack, conversation_id))
    events = await prospect_events(stack, stack.a, prospect_id)
    text = "\n".join(e["comments"] for e in transcript_events(events))
    if mode == "summary_only":
        assert transcript_events(events) == []
    else:
        assert all(f"({m['id']})" in text for m in messages if m["role"] == "prospect")
        assert "DomIQ assistant" not in text
        assert all(f"({m['id']})" not in text for m in messages if m["role"] == "assistant")
    notes = [e for e in events if (e.get("comments") or "").startswith("DomIQ chat summary")]
    assert len(notes) == 1
    assert "Lead score: 91/100" in notes[0]["comments"]
    assert "Conversation summary: Wants parking; dog OK." in notes[0]["comments"]


@pytest.mark.stack_settings(transcript_batch_seconds=0.2)
async def test_bad_input_is_refused_and_writes_nothing(stack: Stack) -> None:
    conversation_id, _ = await create_synced_lead(stack, stack.a)
    good = chat(1)[0]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"messages": [{**good, "role": "agent"}]}, 422, "messages.0.role"),
        ({"messages": [{k: v for k, v in good.items() if k != "text"}]}, 422, "messages.0.text"),
        ({"messages": [{**good, "sent_at": "2026-12-03T15:00:00"}]}, 422, "messages.0.sent_at"),
        ({"messages": [{**good, "text": "x" * 8001}]}, 422, "messages.0.text"),
        ({"messages": [good, good]}, 422, "body"),
        ({"messages": [], "lead_score": 120}, 422, "lead_score"),
        ({"messages": [{**good, "extra": 1}]}, 422, "messages.0.extra"),
    ]
    for body, status, field in cases:
        answer = await post_messages(stack, conversation_id, body)
        assert answer.status_code == status, (body, answer.text)
        fields = [e["field"] for e in answer.json()["errors"]]
        assert any(field in f for f in fields), (field, fields)

    assert (await post_messages(stack, uuid.uuid4(), {"messages": [good]})).status_code == 404
    # Another property's key learns nothing about this lead.
    other = await post_messages(stack, conversation_id, {"messages": [good]}, tenant=stack.b)
    assert other.status_code == 404
    too_many = await post_messages(stack, conversation_id, {"messages": chat(201, prefix="t")})
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["errors"][0]["field"].endswith("messages")
    too_big = {"messages": [{**m, "text": "z" * 8000} for m in chat(40, prefix="b")]}
    assert (await post_messages(stack, conversation_id, too_big)).status_code == 413

    # One id reused with other content: 409 naming it, and the new message beside it is not
    # stored either.
    assert (await post_messages(stack, conversation_id, {"messages": [good]})).status_code == 202
    reused = {"messages": [chat(2)[1], {**good, "text": "changed"}]}
    answer = await post_messages(stack, conversation_id, reused)
    assert answer.status_code == 409, answer.text
    assert answer.json()["errors"][0]["field"] == "messages.1.id"
    async with stack.runtime.sessionmaker() as session:
        stored = await session.scalars(
            select(ChatMessage.message_id).where(ChatMessage.conversation_id == conversation_id)
        )
        assert list(stored) == [good["id"]]


@pytest.mark.stack_settings(transcript_batch_seconds=0.2)
async def test_office_notes_reach_context_and_history_without_echo(stack: Stack) -> None:
    conversation_id, prospect_id = await create_synced_lead(
        stack, stack.a, lead_body(stack.a.property_id, n=7)
    )
    messages = chat(4)
    assert (await post_messages(stack, conversation_id, {"messages": messages})).status_code == 202
    await wait_until(lambda: all_pushed(stack, conversation_id))
    tour = await stack.api.post(
        f"/api/resman/leads/{conversation_id}/tours",
        json={"tour_datetime": "2027-01-09T10:00:00-06:00"},
        headers=stack.auth(stack.a),
    )
    assert tour.status_code == 201, tour.text
    url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}/notes"
    for text in ("Sent the pet policy by email", "Called back: prefers texts"):
        (await stack.sandbox.post(url, json={"text": text})).raise_for_status()

    async def office_in_context() -> bool:
        pulled = await stack.api.get(
            "/api/resman/leads/pull",
            params={"property_id": str(stack.a.property_id)},
            headers=stack.auth(stack.a),
        )
        assert pulled.status_code == 200, pulled.text
        async with stack.runtime.sessionmaker() as session:
            conv = await session.get(Conversation, conversation_id)
            assert conv is not None
            updates = (conv.context or {}).get("resman", {}).get("conversation_updates") or []
        return len(updates) >= 2

    await wait_until(office_in_context, interval=0.3)
    async with stack.runtime.sessionmaker() as session:
        conv = await session.get(Conversation, conversation_id)
        assert conv is not None
        updates = conv.context["resman"]["conversation_updates"]
    # In order, oldest first, and none of them is our own transcript or first contact.
    assert [u["note"] for u in updates] == [
        "Sent the pet policy by email",
        "Called back: prefers texts",
    ]

    history = await stack.api.get(
        f"/api/resman/leads/{conversation_id}/history",
        params={"size": 200},
        headers=stack.auth(stack.a),
    )
    assert history.status_code == 200, history.text
    page = history.json()
    kinds = [item["kind"] for item in page["items"]]
    assert set(kinds) == {"chat_message", "office_update", "status_change", "tour", "sync"}
    ats = [item["at"] for item in page["items"]]
    stamps = [datetime.fromisoformat(a) for a in ats]
    assert stamps == sorted(stamps, reverse=True)
    chats = [i for i in page["items"] if i["kind"] == "chat_message"]
    assert [c["data"]["message_id"] for c in chats] == [m["id"] for m in reversed(messages)]
    assert all(c["data"]["in_resman"] for c in chats)
    office = [i["data"]["note"] for i in page["items"] if i["kind"] == "office_update"]
    assert office == ["Called back: prefers texts", "Sent the pet policy by email"]

    # Paginated: page 2 of size 2 continues where page 1 stopped.
    first = await stack.api.get(
        f"/api/resman/leads/{conversation_id}/history",
        params={"size": 2, "page": 1},
        headers=stack.auth(stack.a),
    )
    second = await stack.api.get(
        f"/api/resman/leads/{conversation_id}/history",
        params={"size": 2, "page": 2},
        headers=stack.auth(stack.a),
    )
    assert first.json()["items"] + second.json()["items"] == page["items"][:4]
    assert first.json()["total"] == page["total"]
    foreign = await stack.api.get(
        f"/api/resman/leads/{conversation_id}/history", headers=stack.auth(stack.b)
    )
    assert foreign.status_code == 404
    bad = await stack.api.get(
        f"/api/resman/leads/{conversation_id}/history",
        params={"size": 0},
        headers=stack.auth(stack.a),
    )
    assert bad.status_code == 422


async def _ws_answer(ws: Any, want_id: str) -> dict[str, Any]:
    """The ack or error answering the message ``want_id`` (events and heartbeats skipped)."""
    async with asyncio.timeout(PATIENCE):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] in ("ack", "error") and message.get("id") == want_id:
                return message


@pytest.mark.stack_settings(transcript_batch_seconds=0.2)
async def test_websocket_accepts_chat_messages_like_the_api(stack: Stack) -> None:
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    base = str(stack.api.base_url).rstrip("/").replace("http", "ws", 1)
    url = f"{base}/api/resman/sync/websocket?property_id={stack.a.property_id}"
    headers = {"Authorization": f"Bearer {stack.a.api_key}"}
    messages = chat(3, prefix="w")
    async with connect(url, additional_headers=headers, proxy=None) as ws:
        data = {"conversation_id": str(conversation_id), "messages": messages}
        await ws.send(json.dumps({"type": "chat_messages", "id": "c1", "data": data}))
        ack = await _ws_answer(ws, "c1")
        assert ack["type"] == "ack", ack
        assert (ack["data"]["accepted"], ack["data"]["duplicates"]) == (3, 0)
        bad = {"conversation_id": str(conversation_id), "messages": [{**messages[0], "id": ""}]}
        await ws.send(json.dumps({"type": "chat_messages", "id": "c2", "data": bad}))
        error = await _ws_answer(ws, "c2")
    assert error["type"] == "error"
    assert error["data"]["status"] == 422
    assert [e["field"] for e in error["data"]["errors"]] == ["data.messages.0.id"]
    await wait_until(lambda: all_pushed(stack, conversation_id))
    assert_exactly_once(await prospect_events(stack, stack.a, prospect_id), messages)


async def test_a_changed_lead_score_reaches_the_office_as_a_note(stack: Stack) -> None:
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    changed = await stack.api.patch(
        f"/api/resman/leads/{conversation_id}", json={"lead_score": 42}, headers=stack.auth(stack.a)
    )
    assert changed.status_code == 200, changed.text
    await wait_until(lambda: all_pushed(stack, conversation_id))
    events = await prospect_events(stack, stack.a, prospect_id)
    notes = [e for e in events if (e.get("comments") or "").startswith("DomIQ chat summary")]
    assert len(notes) == 1
    assert "Lead score: 42/100" in notes[0]["comments"]
    # The same score again is no change: no second note.
    again = await stack.api.patch(
        f"/api/resman/leads/{conversation_id}", json={"lead_score": 42}, headers=stack.auth(stack.a)
    )
    assert again.status_code == 200, again.text
    assert len(await transcript_jobs(stack, conversation_id)) == 1


@pytest.mark.stack_settings(transcript_batch_seconds=600.0)
async def test_a_batch_waiting_its_window_is_not_sync_lag(stack: Stack) -> None:
    conversation_id, _ = await create_synced_lead(stack, stack.a)
    assert (await post_messages(stack, conversation_id, {"messages": chat(2)})).status_code == 202
    [job] = await transcript_jobs(stack, conversation_id)
    assert job.state == "queued"
    later = utcnow() + timedelta(minutes=5)
    async with stack.runtime.sessionmaker() as session:
        state = await read_state(session, now=later)
    assert state.oldest_queued_seconds >= 299  # it is queued ...
    assert state.lag_seconds["to_resman"] == 0  # ... but on purpose: no lag alert


async def test_a_returning_prospects_new_chat_lands_on_the_same_prospect(stack: Stack) -> None:
    body = lead_body(stack.a.property_id, n=21)
    first_id, prospect_id = await create_synced_lead(stack, stack.a, body)
    again = {
        "conversation_id": str(uuid.uuid4()),
        "lead_data": {**body["lead_data"], "initial_message": "Back again: any 2br left?"},
    }
    second_id, second_prospect = await create_synced_lead(stack, stack.a, again)
    assert second_prospect == prospect_id
    for conversation_id, prefix in ((first_id, "a"), (second_id, "b")):
        messages = {"messages": chat(2, prefix=prefix)}
        assert (await post_messages(stack, conversation_id, messages)).status_code == 202
    await wait_until(lambda: all_pushed(stack, first_id))
    await wait_until(lambda: all_pushed(stack, second_id))
    events = await prospect_events(stack, stack.a, prospect_id)
    assert any((e.get("comments") or "").startswith("New chat (ref") for e in events)
    parts = transcript_events(events)
    refs = {p["comments"].split(",", 1)[0] for p in parts}
    assert refs == {
        f"DomIQ chat transcript (ref {first_id.hex[:8]}",
        f"DomIQ chat transcript (ref {second_id.hex[:8]}",
    }
    assert_exactly_once(events, chat(2, prefix="a") + chat(2, prefix="b"))


async def test_a_batch_waits_for_its_lead_to_reach_resman(stack: Stack) -> None:
    await stack.set_transaction_source(stack.a, "999999")  # ResMan refuses the create for good
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id, n=33), headers=stack.auth(stack.a)
    )
    assert created.status_code == 201, created.text
    conversation_id = uuid.UUID(created.json()["conversation_id"])

    async def dead_create() -> list[uuid.UUID]:
        async with stack.runtime.sessionmaker() as session:
            rows = await session.scalars(
                select(LeadSyncQueue.id).where(
                    LeadSyncQueue.lead_key == str(conversation_id), LeadSyncQueue.state == "dead"
                )
            )
            return list(rows)

    await wait_until(lambda: _truthy(dead_create()))
    messages = chat(4, prefix="q")
    assert (await post_messages(stack, conversation_id, {"messages": messages})).status_code == 202

    async def waiting() -> bool:
        [job] = await transcript_jobs(stack, conversation_id)
        return job.error_category == "waiting" and job.retry_count == 0

    await wait_until(waiting)
    await stack.set_transaction_source(stack.a, None)
    async with stack.runtime.sessionmaker() as session, session.begin():
        assert await queue.replay(session, job_ids=await dead_create())
    prospect_id = await synced_prospect(stack, conversation_id)
    await wait_until(lambda: all_pushed(stack, conversation_id))
    assert_exactly_once(await prospect_events(stack, stack.a, prospect_id), messages)


async def _truthy(values: Awaitable[list[uuid.UUID]]) -> bool:
    return bool(await values)
