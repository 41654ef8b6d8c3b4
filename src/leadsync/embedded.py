"""`leadsync up`: the whole product in one process on the embedded default.

API + worker over a SQLite file in the data folder, and — when no real ResMan integration
is configured — the bundled sandbox with a demo property wired to it, so a new user sees
leads flowing with one command. Ctrl-C stops everything cleanly; queued jobs are in the
database and resume on the next start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin.apikeys import create_api_key
from leadsync.admin.integrations import add_integration, list_integrations
from leadsync.app import create_app
from leadsync.config import Settings
from leadsync.db.migrate import upgrade
from leadsync.db.types import utcnow
from leadsync.demo import drive_demo
from leadsync.runtime import Runtime
from leadsync.sandbox.admin_client import open_admin
from leadsync.sandbox.app import ADMIN_DOCS_PATH, create_sandbox_app
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.seed import (
    SANDBOX_ACCOUNT_ID,
    SANDBOX_API_KEY,
    SANDBOX_PARTNER_ID,
    SANDBOX_PROPERTY_ID,
)
from leadsync.sandbox.server import SandboxServer
from leadsync.security.crypto import open_json, seal_json

#: The demo property is fixed so restarts reuse it (and its queued jobs).
DEMO_PROPERTY_ID = uuid.uuid5(uuid.NAMESPACE_URL, "https://leadsync.local/demo-property")
DEMO_KEY_FILE = "demo-api-key"


@dataclass(frozen=True, slots=True)
class DemoTenant:
    property_id: uuid.UUID
    api_key: str
    integration_id: uuid.UUID
    webhook_secret: str


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


async def ensure_demo_tenant(
    session: AsyncSession, *, runtime: Runtime, sandbox_url: str
) -> DemoTenant:
    """The demo property, its integration with the bundled sandbox and an API key (kept in
    the data folder, owner-only, so every start can print and use it)."""
    existing = next(
        (i for i in await list_integrations(session) if i.property_id == DEMO_PROPERTY_ID), None
    )
    secrets_ = (
        open_json(existing.api_credentials, keys=runtime.keys).get("webhook_secrets")
        if existing is not None
        else None
    ) or [f"whsec_{base64.b64encode(os.urandom(24)).decode()}"]
    credentials = {
        "base_url": sandbox_url,
        "account_id": SANDBOX_ACCOUNT_ID,
        "partner_id": SANDBOX_PARTNER_ID,
        "api_key": SANDBOX_API_KEY,
        "webhook_secrets": secrets_,
    }
    if existing is None:
        existing = await add_integration(
            session,
            keys=runtime.keys,
            property_id=DEMO_PROPERTY_ID,
            property_name="Demo property (bundled ResMan sandbox)",
            resman_base_url=sandbox_url,
            account_id=SANDBOX_ACCOUNT_ID,
            resman_property_id=SANDBOX_PROPERTY_ID,
            partner_id=SANDBOX_PARTNER_ID,
            api_key=SANDBOX_API_KEY,
            webhook_secret=secrets_[0],
        )
    elif open_json(existing.api_credentials, keys=runtime.keys) != credentials:
        # The sandbox came up on another port than last time (or an older demo had no
        # webhook secret).
        existing.api_credentials = seal_json(credentials, keys=runtime.keys)
        existing.updated_at = utcnow()
    if (existing.sync_settings or {}).get("feed") is not True:
        # Follow the sandbox's change feed (sync/inbound/feed.py): office changes arrive at once
        # even where webhooks cannot reach us.
        existing.sync_settings = {**(existing.sync_settings or {}), "feed": True}
    key_file = runtime.settings.data_dir / DEMO_KEY_FILE
    if key_file.exists():
        plaintext = key_file.read_text().strip()
    else:
        _, plaintext = await create_api_key(session, name="demo", property_ids=[DEMO_PROPERTY_ID])
        _write_private(key_file, plaintext)
    return DemoTenant(DEMO_PROPERTY_ID, plaintext, existing.id, secrets_[0])


async def connect_sandbox_webhooks(*, sandbox_url: str, api_url: str, tenant: DemoTenant) -> None:
    """Point the sandbox's staff-action webhooks at our receiver, signed with the demo
    integration's secret: office changes reach the chatbot in milliseconds, not at the
    next poll."""
    target = f"{api_url}/api/resman/webhooks/lead-update?integration={tenant.integration_id}"
    async with open_admin(sandbox_url) as admin:
        await admin.set_webhook(url=target, secret=tenant.webhook_secret)


async def _needs_sandbox(runtime: Runtime) -> bool:
    async with runtime.sessionmaker() as session:
        integrations = await list_integrations(session)
    return all(i.property_id == DEMO_PROPERTY_ID for i in integrations)


def banner(*, api_url: str, sandbox_url: str | None, tenant: DemoTenant | None) -> str:
    lines = [
        "leadsync is running",
        f"  API                 {api_url}",
        f"  API docs (OpenAPI)  {api_url}/docs",
        f"  Dashboard           {api_url}/dashboard/  (sign in with an API key)",
        f"  Metrics             {api_url}/metrics  (success report: leadsync report)",
    ]
    if sandbox_url:
        lines += [
            f"  ResMan sandbox      {sandbox_url}  (admin docs {sandbox_url}{ADMIN_DOCS_PATH})",
        ]
    if tenant:
        lines += [
            f"  Demo property       {tenant.property_id}",
            f"  Demo API key        {tenant.api_key}",
            "",
            "  Try it:",
            f"    curl -s {api_url}/api/resman/leads \\",
            f"      -H 'Authorization: Bearer {tenant.api_key}' \\",
            "      -H 'Content-Type: application/json' -d '{\"conversation_id\": "
            f'"{uuid.uuid4()}", "lead_data": {{"first_name": "Ann", "last_name": '
            f'"Lee", "email": "ann.lee@example.org", "property_id": '
            f'"{tenant.property_id}", "source": "chatbot", "initial_message": '
            '"Any 2br in March?", "lead_score": 80}}\'',
        ]
    lines.append("  Press Ctrl-C to stop.")
    return "\n".join(lines)


async def run_embedded(
    *,
    settings: Settings,
    host: str,
    port: int,
    sandbox_port: int,
    demo: bool,
    demo_interval: float,
    echo: Callable[[str], None],
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Alembic is synchronous; keep it off the event loop.
    await asyncio.to_thread(upgrade, url=settings.effective_database_url)
    runtime = Runtime.build(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(runtime.close)
        sandbox_url: str | None = None
        tenant: DemoTenant | None = None
        if await _needs_sandbox(runtime):
            sandbox = SandboxServer(
                create_sandbox_app(SandboxConfig(state_file=settings.data_dir / "sandbox.db")),
                host="127.0.0.1",
                port=sandbox_port,
            )
            await stack.enter_async_context(sandbox)
            sandbox_url = sandbox.base_url
            async with runtime.sessionmaker() as session, session.begin():
                tenant = await ensure_demo_tenant(session, runtime=runtime, sandbox_url=sandbox_url)
        elif demo:
            echo("--demo needs the bundled sandbox; real integrations are configured: skipped")
        app = create_app(settings, runtime=runtime, run_worker=True)
        runtime.start_scheduler()
        runtime.start_feeds()
        if settings.alerts_evaluate is not False:
            runtime.start_alerts()
        runtime.start_reconcile()
        api = SandboxServer(app, host=host, port=port, install_signal_handlers=True)
        async with api:
            if sandbox_url and tenant:
                await connect_sandbox_webhooks(
                    sandbox_url=sandbox_url, api_url=api.base_url, tenant=tenant
                )
            echo(banner(api_url=api.base_url, sandbox_url=sandbox_url, tenant=tenant))
            demo_task = None
            if demo and tenant is not None:
                demo_task = asyncio.create_task(
                    drive_demo(
                        api_url=api.base_url,
                        api_key=tenant.api_key,
                        property_id=tenant.property_id,
                        interval=demo_interval,
                        echo=echo,
                        sandbox_url=sandbox_url,
                        resman_property_id=SANDBOX_PROPERTY_ID,
                    )
                )
            await api.wait()
            if demo_task is not None:
                demo_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await demo_task
        echo("leadsync stopped; queued jobs resume on the next start.")
