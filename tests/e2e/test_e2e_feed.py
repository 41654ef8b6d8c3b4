"""ResMan -> DomIQ by the change feed, end to end: a staff action in the sandbox -> its
WebSocket feed -> the subscriber -> inbox + queue -> worker -> ResMan re-read -> the
chatbot's conversation. No webhook is configured and the poller is never started, so the
feed is the only way the change can arrive. The sandbox is restarted (same port, same state
file) to drop the feed; the subscriber must come back by itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from leadsync.admin.apikeys import create_api_key
from leadsync.admin.integrations import add_integration
from leadsync.app import create_app
from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue, WebhookInbox
from leadsync.embedded import DemoTenant, connect_sandbox_webhooks
from leadsync.runtime import Runtime
from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.seed import (
    SANDBOX_ACCOUNT_ID,
    SANDBOX_API_KEY,
    SANDBOX_PARTNER_ID,
    SANDBOX_PROPERTY_ID,
    SANDBOX_PROPERTY_ID_2,
)
from leadsync.sandbox.server import SandboxServer
from leadsync.sandbox.webhooks import generate_secret
from stack import PATIENCE, Stack, Tenant, create_synced_lead, stack_settings, wait_until

#: The integrations' webhook secret; only the test that also turns webhooks on uses it.
WEBHOOK_SECRET = generate_secret()


class Sandbox:
    """The sandbox served on one fixed port, stoppable and restartable (its state file
    keeps the prospects, as a real ResMan keeps them across a restart of its feed)."""

    def __init__(self, state_file: Path) -> None:
        self._config = SandboxConfig(state_file=state_file)
        self._server: SandboxServer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        server = SandboxServer(create_sandbox_app(self._config), port=self.port)
        await server.__aenter__()
        self._server, self.port = server, server.port

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.__aexit__(None, None, None)


@dataclass
class FeedStack:
    stack: Stack
    sandbox: Sandbox

    @property
    def runtime(self) -> Runtime:
        return self.stack.runtime


async def _tenant(
    runtime: Runtime, *, sandbox_url: str, resman_property_id: str, feed: bool
) -> Tenant:
    property_id = uuid.uuid4()
    async with runtime.sessionmaker() as session, session.begin():
        integration = await add_integration(
            session,
            keys=runtime.keys,
            property_id=property_id,
            resman_base_url=sandbox_url,
            account_id=SANDBOX_ACCOUNT_ID,
            resman_property_id=resman_property_id,
            partner_id=SANDBOX_PARTNER_ID,
            api_key=SANDBOX_API_KEY,
            webhook_secret=WEBHOOK_SECRET,
        )
        integration.sync_settings = {"feed": True} if feed else {}
        _, api_key = await create_api_key(session, name="feed-test", property_ids=[property_id])
    return Tenant(property_id, integration.id, resman_property_id, api_key)


@pytest.fixture
async def feed_stack(
    migrated_db_url: str, data_dir: Path, tmp_path: Path
) -> AsyncIterator[FeedStack]:
    sandbox = Sandbox(tmp_path / "sandbox.db")
    await sandbox.start()
    settings = stack_settings(db_url=migrated_db_url, data_dir=data_dir)
    runtime = Runtime.build(settings)
    try:
        # Only the first property follows its feed; the second relies on the poller alone.
        a = await _tenant(
            runtime, sandbox_url=sandbox.base_url, resman_property_id=SANDBOX_PROPERTY_ID, feed=True
        )
        b = await _tenant(
            runtime,
            sandbox_url=sandbox.base_url,
            resman_property_id=SANDBOX_PROPERTY_ID_2,
            feed=False,
        )
        app = create_app(settings, runtime=runtime, run_worker=True)
        runtime.start_feeds()  # and deliberately no scheduler: nothing is ever polled
        async with (
            SandboxServer(app) as api_server,
            httpx2.AsyncClient(base_url=api_server.base_url, timeout=PATIENCE) as api,
            httpx2.AsyncClient(base_url=sandbox.base_url, timeout=PATIENCE) as admin,
        ):
            yield FeedStack(Stack(api=api, sandbox=admin, runtime=runtime, a=a, b=b), sandbox)
    finally:
        await runtime.close()
        await sandbox.stop()


# --- helpers -----------------------------------------------------------------------------
async def feed_followed(fs: FeedStack, *, connects: int) -> None:
    """The subscriber holds its ``connects``-th connection, and the sandbox sees exactly
    one subscriber (the second property's integration has no feed)."""
    integration_id = fs.stack.a.integration_id

    async def ready() -> bool:
        feeds = fs.runtime.feeds
        if not feeds.connected(integration_id) or feeds.connects[integration_id] != connects:
            return False
        stats = (await fs.stack.sandbox.get("/admin/stats")).json()
        return bool(stats["feed_subscribers"] == 1)

    await wait_until(ready)


async def chatbot_lead(stack: Stack) -> tuple[uuid.UUID, str]:
    return await create_synced_lead(stack, stack.a)


async def staff(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects{path}", json=body
    )
    response.raise_for_status()
    changed: dict[str, Any] = response.json()
    return changed


async def wait_for_status(stack: Stack, conversation_id: uuid.UUID, status: str) -> Conversation:
    async def reached() -> bool:
        async with stack.runtime.sessionmaker() as session:
            conv = await session.get(Conversation, conversation_id)
        return conv is not None and conv.status == status

    await wait_until(reached)
    async with stack.runtime.sessionmaker() as session:
        conv = await session.get(Conversation, conversation_id)
    assert conv is not None
    return conv


async def inbox(stack: Stack) -> list[WebhookInbox]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(select(WebhookInbox).order_by(WebhookInbox.received_at))
        return list(rows.all())


# --- tests -------------------------------------------------------------------------------
async def test_staff_change_reaches_the_conversation_through_the_feed(
    feed_stack: FeedStack,
) -> None:
    stack = feed_stack.stack
    await feed_followed(feed_stack, connects=1)
    conversation_id, prospect_id = await chatbot_lead(stack)

    await staff(
        stack, f"/{prospect_id}/status", {"customer_type": "applicant", "event_type": "Application"}
    )

    conv = await wait_for_status(stack, conversation_id, "application")
    assert conv.context["resman"]["customer_type"] == "applicant"
    # Our own create came back on the feed as origin "api" and was not turned into work:
    # the only inbound change is the staff one (the feed delivers in order).
    [row] = await inbox(stack)
    assert row.payload["lead_id"] == prospect_id
    assert row.payload["status"] == "applicant"
    assert row.integration_id == stack.a.integration_id
    stats = (await stack.sandbox.get("/admin/stats")).json()
    assert stats["webhooks"]["queued"] == 0  # no webhook was ever sent


async def test_walk_in_created_by_staff_becomes_a_lead_through_the_feed(
    feed_stack: FeedStack,
) -> None:
    stack = feed_stack.stack
    await feed_followed(feed_stack, connects=1)

    walk_in = await staff(
        stack,
        "",
        {"first_name": "Walk", "last_name": "In", "email": "walk.in@example.org"},
    )

    async def linked() -> bool:
        async with stack.runtime.sessionmaker() as session:
            found = await session.scalar(
                select(LeadLink).where(LeadLink.resman_prospect_id == walk_in["prospect_id"])
            )
        return found is not None

    await wait_until(linked)


async def test_subscriber_reconnects_after_the_feed_drops(feed_stack: FeedStack) -> None:
    stack = feed_stack.stack
    await feed_followed(feed_stack, connects=1)
    conversation_id, prospect_id = await chatbot_lead(stack)

    await feed_stack.sandbox.stop()

    async def dropped() -> bool:
        return not feed_stack.runtime.feeds.connected(stack.a.integration_id)

    await wait_until(dropped)
    await feed_stack.sandbox.start()  # same port, same prospects; its feed starts afresh
    await feed_followed(feed_stack, connects=2)

    await staff(
        stack, f"/{prospect_id}/status", {"customer_type": "applicant", "event_type": "Application"}
    )
    await wait_for_status(stack, conversation_id, "application")
    [row] = await inbox(stack)
    assert row.payload["lead_id"] == prospect_id


async def test_a_change_arriving_by_webhook_and_by_feed_is_queued_once(
    feed_stack: FeedStack,
) -> None:
    stack = feed_stack.stack
    tenant = stack.a
    await connect_sandbox_webhooks(
        sandbox_url=feed_stack.sandbox.base_url,
        api_url=str(stack.api.base_url).rstrip("/"),
        tenant=DemoTenant(
            tenant.property_id, tenant.api_key, tenant.integration_id, WEBHOOK_SECRET
        ),
    )
    await feed_followed(feed_stack, connects=1)
    conversation_id, prospect_id = await chatbot_lead(stack)

    await staff(
        stack, f"/{prospect_id}/status", {"customer_type": "applicant", "event_type": "Application"}
    )

    async def both_arrived() -> bool:
        stats = (await stack.sandbox.get("/admin/stats")).json()
        by_feed = feed_stack.runtime.feeds.received[tenant.integration_id]
        return bool(stats["webhooks"]["delivered"] == 1 and by_feed == 1)

    await wait_until(both_arrived)
    await wait_for_status(stack, conversation_id, "application")
    [row] = await inbox(stack)
    assert row.payload["lead_id"] == prospect_id
    async with stack.runtime.sessionmaker() as session:
        refreshes = (
            await session.scalars(
                select(LeadSyncQueue).where(LeadSyncQueue.sync_operation == "pull")
            )
        ).all()
    assert len(refreshes) == 1
