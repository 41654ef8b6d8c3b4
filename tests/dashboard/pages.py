"""Helpers of the dashboard tests: a signed-in HTTP client, the CSRF token of a page, and
the states the pages show (a parked conflict, a dead letter)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from sqlalchemy import select

from leadsync.db.models import SyncConflict
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.flags import reset_cache, set_push_paused
from stack import PATIENCE, Stack, Tenant, create_synced_lead, lead_body, wait_until

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


@asynccontextmanager
async def signed_in(stack: Stack, tenant: Tenant) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser-like client (its own cookie jar) signed in with the tenant's API key."""
    async with httpx2.AsyncClient(base_url=str(stack.api.base_url), timeout=PATIENCE) as client:
        response = await client.post("/dashboard/login", data={"api_key": tenant.api_key})
        assert response.status_code == 303, response.text
        yield client


async def drained(stack: Stack) -> bool:
    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return not counts.get("queued") and not counts.get("running")


async def _pause(stack: Stack, paused: bool) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=paused, changed_by="test")
    reset_cache()
    if not paused:
        stack.runtime.worker.wake()


async def parked_phone_conflict(stack: Stack) -> tuple[str, str]:
    """A lead of A whose phone changed on both sides: (conversation id, conflict id)."""
    conv_id, prospect_id = await create_synced_lead(stack, stack.a)
    conversation_id = str(conv_id)
    await _pause(stack, True)
    await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"phone": "(737) 555-1111"},
        headers=stack.auth(stack.a),
    )
    url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}/contact"
    (await stack.sandbox.post(url, json={"phone": "(512) 555-2222"})).raise_for_status()
    await _pause(stack, False)
    await wait_until(lambda: drained(stack))
    async with stack.runtime.sessionmaker() as session:
        conflict = await session.scalar(
            select(SyncConflict).where(SyncConflict.conversation_id == uuid.UUID(conversation_id))
        )
    assert conflict is not None
    assert conflict.status == "open"
    return conversation_id, str(conflict.id)


async def dead_letter(stack: Stack) -> tuple[str, str]:
    """A lead of A that ResMan refused for good, the cause fixed since: (conversation id,
    job id); replaying it now succeeds."""
    await stack.set_transaction_source(stack.a, "no-such-source")
    body: dict[str, Any] = lead_body(stack.a.property_id)
    created = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert created.status_code in (200, 201), created.text

    async def dead() -> bool:
        listed = await stack.api.get("/api/resman/queue/dead-letters", headers=stack.auth(stack.a))
        return bool(listed.json()["dead_letters"])

    await wait_until(dead)
    listed = await stack.api.get("/api/resman/queue/dead-letters", headers=stack.auth(stack.a))
    [job] = listed.json()["dead_letters"]
    await stack.set_transaction_source(stack.a, None)
    return body["conversation_id"], job["id"]


async def possible_duplicate(stack: Stack) -> tuple[str, str, str]:
    """Two leads of A on one phone under different names: the second gets its own prospect
    and a ``duplicate_lead`` conflict. (first prospect id, second conversation id, conflict
    id)."""
    _, first_prospect = await create_synced_lead(stack, stack.a)
    again = lead_body(stack.a.property_id, n=7)
    again["lead_data"].update(
        first_name="Mary", last_name="Smith", email="mary.smith@yahoo.com", phone="(512) 555-0199"
    )
    second, _ = await create_synced_lead(stack, stack.a, again)
    found: list[str] = []

    async def flagged() -> bool:
        async with stack.runtime.sessionmaker() as session:
            conflict_id = await session.scalar(
                select(SyncConflict.id).where(
                    SyncConflict.conversation_id == second,
                    SyncConflict.conflict_type == "duplicate_lead",
                )
            )
        found[:] = [str(conflict_id)] if conflict_id else []
        return bool(found)

    await wait_until(flagged)
    return first_prospect, str(second), found[0]
