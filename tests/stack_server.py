"""``running_stack``: the real ResMan sandbox and the real API, each served by uvicorn on
loopback, over a real (SQLite or PostgreSQL) database, with two tenants (A and B)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.app import create_app
from leadsync.db.models import ApiKey, ApiKeyProperty, Property, ResmanIntegration
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
from leadsync.security.apikeys import generate_api_key
from leadsync.security.crypto import seal_json
from stack import PATIENCE, Stack, Tenant, stack_settings


async def _tenant(
    session: AsyncSession, runtime: Runtime, *, sandbox_url: str, resman_property_id: str
) -> Tenant:
    prop = Property(id=uuid.uuid4(), name=f"Property {resman_property_id[:4]}")
    session.add(prop)
    await session.flush()
    integration = ResmanIntegration(
        id=uuid.uuid4(),
        property_id=prop.id,
        resman_property_id=resman_property_id,
        api_credentials=seal_json(
            {
                "base_url": sandbox_url,
                "account_id": SANDBOX_ACCOUNT_ID,
                "partner_id": SANDBOX_PARTNER_ID,
                "api_key": SANDBOX_API_KEY,
            },
            keys=runtime.keys,
        ),
    )
    key = generate_api_key()
    api_key = ApiKey(id=uuid.uuid4(), name="test", prefix=key.prefix, hash=key.hash)
    session.add_all([integration, api_key])
    await session.flush()
    session.add(ApiKeyProperty(api_key_id=api_key.id, property_id=prop.id))
    await session.flush()
    return Tenant(prop.id, integration.id, resman_property_id, key.plaintext)


@asynccontextmanager
async def running_stack(*, db_url: str, data_dir: Path, **overrides: Any) -> AsyncIterator[Stack]:
    sandbox_app = create_sandbox_app(SandboxConfig())
    async with SandboxServer(sandbox_app) as sandbox_server:
        settings = stack_settings(db_url=db_url, data_dir=data_dir, **overrides)
        runtime = Runtime.build(settings)
        async with runtime.sessionmaker() as session, session.begin():
            a = await _tenant(
                session,
                runtime,
                sandbox_url=sandbox_server.base_url,
                resman_property_id=SANDBOX_PROPERTY_ID,
            )
            b = await _tenant(
                session,
                runtime,
                sandbox_url=sandbox_server.base_url,
                resman_property_id=SANDBOX_PROPERTY_ID_2,
            )
        app = create_app(settings, runtime=runtime, run_worker=True)
        try:
            async with (
                SandboxServer(app) as api_server,
                httpx2.AsyncClient(base_url=api_server.base_url, timeout=PATIENCE) as api,
                httpx2.AsyncClient(base_url=sandbox_server.base_url, timeout=PATIENCE) as admin,
            ):
                yield Stack(api=api, sandbox=admin, runtime=runtime, a=a, b=b)
        finally:
            await runtime.close()
