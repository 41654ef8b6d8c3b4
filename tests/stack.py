"""Shared pieces of the end-to-end tests: the running stack and request builders."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from leadsync.admin.apikeys import create_api_key
from leadsync.admin.integrations import add_integration
from leadsync.config import Settings
from leadsync.db.models import ResmanIntegration
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.leads.service import sync_state
from leadsync.runtime import Runtime
from leadsync.sandbox.seed import (
    SANDBOX_ACCOUNT_ID,
    SANDBOX_API_KEY,
    SANDBOX_PARTNER_ID,
    SANDBOX_PROPERTY_ID,
)
from leadsync.security.crypto import KeyRing, generate_key
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.flags import set_push_paused


@dataclass
class Tenant:
    property_id: uuid.UUID
    integration_id: uuid.UUID
    resman_property_id: str
    api_key: str


@dataclass
class Stack:
    api: httpx2.AsyncClient
    sandbox: httpx2.AsyncClient
    runtime: Runtime
    a: Tenant
    b: Tenant

    def auth(self, tenant: Tenant) -> dict[str, str]:
        return {"Authorization": f"Bearer {tenant.api_key}"}

    async def resman_prospects(self, tenant: Tenant) -> list[dict[str, object]]:
        response = await self.sandbox.get(
            f"/admin/properties/{tenant.resman_property_id}/prospects", params={"limit": 10000}
        )
        response.raise_for_status()
        prospects: list[dict[str, object]] = response.json()["prospects"]
        return prospects

    async def set_transaction_source(self, tenant: Tenant, source: str | None) -> None:
        """Pin tenant's TransactionSource id (an unknown one makes ResMan refuse every lead
        for good); None goes back to looking up "Chatbot"."""
        settings = {"transaction_source_id": source} if source else {}
        async with self.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(ResmanIntegration)
                .where(ResmanIntegration.id == tenant.integration_id)
                .values(sync_settings=settings, updated_at=utcnow())
            )

    async def set_faults(self, **faults: object) -> None:
        (await self.sandbox.put("/admin/faults", json=faults)).raise_for_status()


def lead_body(property_id: uuid.UUID, *, n: int | None = None) -> dict[str, Any]:
    """A realistic CreateLeadRequest; ``n`` makes name, email and phone unique."""
    suffix = "" if n is None else f"{n:03d}"
    return {
        "conversation_id": str(uuid.uuid4()),
        "lead_data": {
            "first_name": "Maria",
            "last_name": f"Gomez{suffix}",
            "email": f"maria.gomez{suffix}@gmail.com",
            "phone": f"(512) 555-{(199 + (n or 0)):04d}" if n is not None else "(512) 555-0199",
            "property_id": str(property_id),
            "source": "chatbot",
            "initial_message": "Hi! Do you allow dogs?",
            "lead_score": 87,
            "move_in_date": "2027-01-15",
            "budget_range": {"min": 1200, "max": 1600},
            "apartment_size_preference": "2br",
            "occupants_count": 2,
            "has_pets": True,
            "pet_details": {"type": "dog", "count": 1},
            "transcript_summary": "Wants a 2br with a dog park, moving for work.",
        },
    }


#: How long a test waits for a state before it fails. Generous on purpose: the suite runs on
#: loaded 2-core machines (several suites at once), and a wait ends as soon as its state is
#: reached, so a long deadline costs nothing when the machine is idle. Tests never assert how
#: fast something happens, only that it does happen.
PATIENCE = 180.0


def stack_settings(*, db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """The stack's settings. The API's inline wait for the first push attempt is generous:
    the wait ends as soon as the attempt does, so on an idle machine it costs nothing, and on
    a loaded one an answer still carries ResMan's id (the behaviour several tests check)
    instead of depending on how fast the box is. ``overrides`` (from a test's
    ``@pytest.mark.stack_settings(...)``) change single settings, e.g. a short ResMan read
    timeout for a test that injects hangs."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "encryption_keys": SecretStr(generate_key()),
        "push_wait_seconds": 120.0,
        # Chat transcripts wait a short batch window, so a test's queue drains quickly.
        "transcript_batch_seconds": 0.5,
        **overrides,
    }
    return Settings(**values)


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float = PATIENCE, interval: float = 0.1
) -> None:
    """Poll ``check`` until it is true; fail with a clear message after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


async def add_sandbox_tenant(
    session: AsyncSession, *, keys: KeyRing, sandbox_url: str, key_name: str
) -> tuple[uuid.UUID, str]:
    """A new property wired to the sandbox's seeded ResMan property, and an API key for it."""
    property_id = uuid.uuid4()
    await add_integration(
        session,
        keys=keys,
        property_id=property_id,
        resman_base_url=sandbox_url,
        account_id=SANDBOX_ACCOUNT_ID,
        resman_property_id=SANDBOX_PROPERTY_ID,
        partner_id=SANDBOX_PARTNER_ID,
        api_key=SANDBOX_API_KEY,
        webhook_secret=None,
    )
    _, api_key = await create_api_key(session, name=key_name, property_ids=[property_id])
    return property_id, api_key


async def synced_prospect(stack: Stack, conversation_id: uuid.UUID | str) -> str:
    """ResMan's ProspectID for the lead, once its newest push has succeeded.

    A create or update answers ``pending`` when its first push attempt outlasts the request's
    inline wait (a loaded machine); the push then completes in the background. Tests that need
    the synced lead wait for that state here instead of trusting the answer's timing.
    """
    wanted = uuid.UUID(str(conversation_id))
    prospect_id = ""

    async def synced() -> bool:
        nonlocal prospect_id
        async with read_session(stack.runtime.sessionmaker) as session:
            state = await sync_state(session, conversation_id=wanted)
        assert state.sync_status != "failed", f"the push of {wanted} was dead-lettered"
        prospect_id = state.resman_lead_id or ""
        return state.sync_status == "success" and bool(prospect_id)

    await wait_until(synced)
    return prospect_id


async def create_synced_lead(
    stack: Stack, tenant: Tenant, body: dict[str, Any] | None = None
) -> tuple[uuid.UUID, str]:
    """POST a lead (``lead_body`` by default) and wait until it is in ResMan: its
    conversation id and ResMan's ProspectID."""
    created = await stack.api.post(
        "/api/resman/leads",
        json=body or lead_body(tenant.property_id),
        headers=stack.auth(tenant),
    )
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["sync_status"] in ("success", "pending"), answer
    conversation_id = uuid.UUID(answer["conversation_id"])
    prospect_id = await synced_prospect(stack, conversation_id)
    if answer["resman_lead_id"] is not None:
        assert answer["resman_lead_id"] == prospect_id, answer
    return conversation_id, prospect_id


async def claim_behind_the_switch(
    stack: Stack, *, worker_id: str, lease: timedelta, now: datetime | None = None
) -> queue.ClaimedJob:
    """Claim the one push while every other worker still sees the kill switch on: lift it,
    claim and set it again in ONE transaction (the claim statement honours the switch, and
    the stack's own worker must not race this test for the job)."""
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=False, changed_by="test")
        [job] = await queue.claim(session, worker_id=worker_id, limit=1, lease=lease, now=now)
        await set_push_paused(session, paused=True, changed_by="test")
    return job


def signed_webhook(
    body: bytes, *, secret: str, msg_id: str | None = None, when: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers signing ``body`` with ``secret`` (as the sandbox sends)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
    }
