"""Shared pieces of the end-to-end tests: the running stack and request builders."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin.apikeys import create_api_key
from leadsync.admin.integrations import add_integration
from leadsync.db.models import ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.resman.sandbox.seed import (
    SANDBOX_ACCOUNT_ID,
    SANDBOX_API_KEY,
    SANDBOX_PARTNER_ID,
    SANDBOX_PROPERTY_ID,
)
from leadsync.runtime import Runtime
from leadsync.security.crypto import KeyRing


@dataclass
class Tenant:
    property_id: uuid.UUID
    integration_id: uuid.UUID
    resman_property_id: str
    api_key: str


@dataclass
class Stack:
    api: httpx.AsyncClient
    sandbox: httpx.AsyncClient
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


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float = 30.0, interval: float = 0.1
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
