"""A lead ResMan refuses for good becomes a dead letter at once, and is replayed once fixed."""

from __future__ import annotations

from typing import Any

from stack import Stack, lead_body, wait_until


async def test_unknown_transaction_source_is_dead_lettered_then_replayed(stack: Stack) -> None:
    await stack.set_transaction_source(stack.a, "no-such-source")
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    assert created.status_code == 201
    # `failed` when the inline attempt ran it; `pending` when the worker claimed it first.
    assert created.json()["sync_status"] in ("failed", "pending")
    letters: list[dict[str, Any]] = []

    async def buried() -> bool:
        nonlocal letters
        listed = await stack.api.get("/api/resman/queue/dead-letters", headers=stack.auth(stack.a))
        letters = listed.json()["dead_letters"]
        return bool(letters)

    await wait_until(buried)
    [dead] = letters
    assert dead["error_category"] == "transaction_source"
    assert "Transaction Source could not be found" in dead["last_error"]
    assert dead["retry_count"] == 0, "a permanent error must not be retried"
    # Property B's key sees none of A's dead letters.
    other = await stack.api.get("/api/resman/queue/dead-letters", headers=stack.auth(stack.b))
    assert other.json()["dead_letters"] == []
    assert await stack.resman_prospects(stack.a) == []

    await stack.set_transaction_source(stack.a, None)
    retried = await stack.api.post(
        "/api/resman/queue/dead-letters/retry", json={}, headers=stack.auth(stack.a)
    )
    assert retried.json()["retried"] == [dead["id"]]

    async def synced() -> bool:
        return len(await stack.resman_prospects(stack.a)) == 1

    await wait_until(synced)


async def test_retrying_a_job_that_is_not_dead_is_refused(stack: Stack) -> None:
    response = await stack.api.post(
        "/api/resman/queue/dead-letters/retry",
        json={"job_ids": ["9b2e6c9e-0000-4000-8000-000000000000"]},
        headers=stack.auth(stack.a),
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "job_ids"
