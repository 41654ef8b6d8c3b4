"""Bad input gets a clear 4xx problem+json naming the field, and writes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from leadsync.db.models import Conversation, LeadSyncLog, LeadSyncQueue
from stack import Stack, lead_body


async def _row_counts(stack: Stack) -> tuple[int, int, int]:
    async with stack.runtime.sessionmaker() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(Conversation)) or 0),
            int(await session.scalar(select(func.count()).select_from(LeadSyncQueue)) or 0),
            int(await session.scalar(select(func.count()).select_from(LeadSyncLog)) or 0),
        )


def _mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("lead_data.first_name", _DELETE, "lead_data.first_name"),
        ("lead_data.first_name", "   ", "lead_data.first_name"),
        ("lead_data.email", "maria@", "lead_data.email"),
        ("lead_data.phone", "12", "lead_data.phone"),
        ("lead_data.lead_score", "87", "lead_data.lead_score"),
        ("lead_data.lead_score", 101, "lead_data.lead_score"),
        ("lead_data.has_pets", "yes", "lead_data.has_pets"),
        ("lead_data.budget_range", {"min": 2000, "max": 1000}, "lead_data.budget_range"),
        ("lead_data.move_in_date", "next week", "lead_data.move_in_date"),
        ("lead_data.source", "zillow", "lead_data.source"),
        ("lead_data.emial", "typo@example.com", "lead_data.emial"),
        ("conversation_id", "not-a-uuid", "conversation_id"),
    ],
)
async def test_invalid_fields_are_named_and_nothing_is_written(
    stack: Stack, path: str, value: Any, field: str
) -> None:
    body = _mutate(lead_body(stack.a.property_id), path, value)
    response = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]]
    assert field in problem["detail"]
    assert await _row_counts(stack) == (0, 0, 0)


async def test_malformed_json_is_400(stack: Stack) -> None:
    response = await stack.api.post(
        "/api/resman/leads",
        content=b'{"conversation_id": ',
        headers={**stack.auth(stack.a), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["title"] == "Malformed JSON body"
    assert await _row_counts(stack) == (0, 0, 0)


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_413(stack: Stack, chunked: bool) -> None:
    body = lead_body(stack.a.property_id)
    body["lead_data"]["initial_message"] = "x" * (stack.runtime.settings.max_body_bytes + 10)
    raw = json.dumps(body).encode()

    async def stream() -> AsyncIterator[bytes]:
        # No Content-Length: only counting the streamed bytes can catch it (this used to be
        # FastAPI's 400 "error parsing the body").
        for start in range(0, len(raw), 16_384):
            yield raw[start : start + 16_384]

    response = await stack.api.post(
        "/api/resman/leads",
        content=stream() if chunked else raw,
        headers={**stack.auth(stack.a), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await _row_counts(stack) == (0, 0, 0)


async def test_unknown_property_is_rejected(stack: Stack) -> None:
    body = lead_body(uuid.uuid4())
    response = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "lead_data.property_id"
    assert await _row_counts(stack) == (0, 0, 0)


@pytest.mark.parametrize(
    "authorization", [None, "Basic abc", "Bearer nope", "Bearer lsk_deadbeef_wrongsecret"]
)
async def test_missing_or_bad_key_is_401(stack: Stack, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await _row_counts(stack) == (0, 0, 0)


async def test_key_for_property_a_cannot_touch_property_b(stack: Stack) -> None:
    as_a = stack.auth(stack.a)
    response = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.b.property_id), headers=as_a
    )
    assert response.status_code == 403
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.b.property_id), headers=stack.auth(stack.b)
    )
    conversation_id = created.json()["conversation_id"]
    # B's lead is invisible to A's key: updates and tours answer 404, not 403.
    patched = await stack.api.patch(
        f"/api/resman/leads/{conversation_id}", json={"first_name": "Eve"}, headers=as_a
    )
    assert patched.status_code == 404
    tour = await stack.api.post(
        f"/api/resman/leads/{conversation_id}/tours",
        json={"tour_datetime": "2026-12-03T14:30:00-06:00"},
        headers=as_a,
    )
    assert tour.status_code == 404
    [b_prospect] = await stack.resman_prospects(stack.b)
    assert b_prospect["first_name"] == "Maria"
    assert await stack.resman_prospects(stack.a) == []
