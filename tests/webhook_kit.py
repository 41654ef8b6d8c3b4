"""Signed webhook deliveries and the sandbox's staff actions, for end-to-end tests (shared
by the webhook, rotation and integration tests)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx2
from sqlalchemy import select
from standardwebhooks import Webhook

from leadsync.db.models import Conversation, ResmanIntegration, WebhookInbox
from leadsync.sandbox.webhooks import generate_secret
from leadsync.security.crypto import open_json, seal_json
from stack import Stack, Tenant, create_synced_lead, wait_until

PATH = "/api/resman/webhooks/lead-update"


async def connect_webhook(stack: Stack, tenant: Tenant) -> str:
    """Give the tenant's integration a webhook secret and point the sandbox at us."""
    secret = generate_secret()
    keys = stack.runtime.keys
    async with stack.runtime.sessionmaker() as session, session.begin():
        integration = await session.get(ResmanIntegration, tenant.integration_id)
        assert integration is not None
        plain = open_json(integration.api_credentials, keys=keys)
        integration.api_credentials = seal_json({**plain, "webhook_secrets": [secret]}, keys=keys)
    url = f"{str(stack.api.base_url).rstrip('/')}{PATH}?integration={tenant.integration_id}"
    configured = await stack.sandbox.put("/admin/webhook", json={"url": url, "secret": secret})
    configured.raise_for_status()
    return secret


async def deliver(
    stack: Stack, tenant: Tenant, body: dict[str, Any], *, secret: str, msg_id: str
) -> httpx2.Response:
    """A delivery signed the way the sandbox (or a relay) signs it."""
    raw = json.dumps(body)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, raw),
    }
    return await stack.api.post(
        PATH, content=raw, headers=headers, params={"integration": str(tenant.integration_id)}
    )


def event(prospect_id: str, *, status: str, at: datetime) -> dict[str, Any]:
    return {
        "lead_id": prospect_id,
        "status": status,
        "updated_fields": {"status": status},
        "timestamp": at.isoformat(),
        "updated_by": "resman_user",
        "sync_direction": "from_resman",
        "modified_at": at.isoformat(),
    }


async def chatbot_lead(stack: Stack, tenant: Tenant) -> tuple[uuid.UUID, str]:
    """A chatbot lead once it is in ResMan (its push may finish after the answer)."""
    return await create_synced_lead(stack, tenant)


async def conversation(stack: Stack, conversation_id: uuid.UUID) -> Conversation:
    async with stack.runtime.sessionmaker() as session:
        found = await session.get(Conversation, conversation_id)
    assert found is not None
    return found


async def inbox(stack: Stack) -> list[WebhookInbox]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(select(WebhookInbox).order_by(WebhookInbox.received_at))
        return list(rows.all())


async def staff_status(stack: Stack, tenant: Tenant, prospect_id: str) -> dict[str, Any]:
    response = await stack.sandbox.post(
        f"/admin/properties/{tenant.resman_property_id}/prospects/{prospect_id}/status",
        json={"customer_type": "applicant", "event_type": "Application"},
    )
    response.raise_for_status()
    changed: dict[str, Any] = response.json()
    return changed


async def wait_for_status(stack: Stack, conversation_id: uuid.UUID, status: str) -> None:
    async def reached() -> bool:
        return (await conversation(stack, conversation_id)).status == status

    await wait_until(reached)


async def wait_for_inbox(stack: Stack, *states: str) -> list[WebhookInbox]:
    """The inbox once every row has left ``pending`` (each in one of ``states``)."""

    async def settled() -> bool:
        rows = await inbox(stack)
        return bool(rows) and all(row.state in states for row in rows)

    await wait_until(settled)
    return await inbox(stack)
