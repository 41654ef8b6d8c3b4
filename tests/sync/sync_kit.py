"""The engine on its own, without our HTTP API (see the ``engine_kit`` fixture in
tests/sync/conftest.py): a Runtime whose integration talks to the bundled sandbox through
the real ResMan client."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from leadsync.admin.integrations import add_integration
from leadsync.config import Settings
from leadsync.db.models import ResmanIntegration
from leadsync.resman.models import Customer, Event, EventType, Phone, Prospect
from leadsync.runtime import Runtime
from leadsync.sandbox import seed
from leadsync.sandbox.admin_client import open_admin
from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.server import SandboxServer
from leadsync.security.crypto import generate_key
from leadsync.sync.queue.targets import ResManTarget


@dataclass
class Engine:
    runtime: Runtime
    sandbox_url: str
    integration_id: uuid.UUID
    property_id: uuid.UUID

    async def target(self) -> ResManTarget:
        async with self.runtime.sessionmaker() as session:
            return await self.runtime.targets.get(session, integration_id=self.integration_id)

    async def connect(self, *, sync_direction: str = "bidirectional") -> uuid.UUID:
        """One more property connected to the same sandbox property; its integration id."""
        async with self.runtime.sessionmaker() as session, session.begin():
            integration = await _connect(
                session, self.runtime, self.sandbox_url, sync_direction=sync_direction
            )
        return integration.id

    async def office_leads(self, *, count: int, start: datetime, end: datetime) -> None:
        """``count`` prospects the office changed between ``start`` and ``end`` (the
        sandbox's bulk admin endpoint: a pull only reads whole seconds already past)."""
        async with httpx2.AsyncClient(base_url=self.sandbox_url, timeout=30.0) as admin:
            response = await admin.post(
                f"/admin/properties/{seed.SANDBOX_PROPERTY_ID}/prospects/bulk",
                json={
                    "count": count,
                    "modified_from": start.isoformat(),
                    "modified_to": end.isoformat(),
                    "seed": 11,
                },
            )
        response.raise_for_status()

    async def staff_action(self, *, prospect_id: str, action: str, body: dict[str, Any]) -> None:
        """On-site staff act on one of the sandbox property's prospects (a note, a status)."""
        async with open_admin(self.sandbox_url) as admin:
            await admin.staff_action(
                property_id=seed.SANDBOX_PROPERTY_ID,
                prospect_id=prospect_id,
                action=action,
                body=body,
            )

    async def office_lead(self, *, first_name: str, email: str, phone: str) -> Prospect:
        """A lead the office typed into ResMan (a walk-in), as ResMan now holds it."""
        target = await self.target()
        walk_in = seed.prospect_source_id(seed.SANDBOX_PROPERTY_ID, seed.WALK_IN_SOURCE_NAME)
        lead = Prospect(
            customers=(
                Customer(
                    first_name=first_name, last_name="Office", email=email, phones=(Phone(phone),)
                ),
            ),
            events=(
                Event(
                    event_type=EventType.OTHER.value,
                    event_date=datetime.now(UTC).replace(microsecond=0),
                    first_contact=True,
                    transaction_source=walk_in,
                    comments="Walked in",
                ),
            ),
        )
        answer = await target.client.post_lead(creds=target.creds, prospect=lead)
        assert answer.prospect_id
        found = await target.client.search_prospects(
            creds=target.creds, prospect_id=answer.prospect_id
        )
        return next(p for p in found if p.prospect_id == answer.prospect_id)


async def _connect(
    session: AsyncSession, runtime: Runtime, sandbox_url: str, *, sync_direction: str
) -> ResmanIntegration:
    return await add_integration(
        session,
        keys=runtime.keys,
        property_id=uuid.uuid4(),
        resman_base_url=sandbox_url,
        account_id=seed.SANDBOX_ACCOUNT_ID,
        resman_property_id=seed.SANDBOX_PROPERTY_ID,
        partner_id=seed.SANDBOX_PARTNER_ID,
        api_key=seed.SANDBOX_API_KEY,
        webhook_secret=None,
        sync_direction=sync_direction,
    )


@asynccontextmanager
async def running_engine(*, database_url: str, data_dir: Path) -> AsyncIterator[Engine]:
    """A Runtime on ``database_url`` (nothing started) and a fresh sandbox on a free
    loopback port, with one property connected to it."""
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        encryption_keys=SecretStr(generate_key()),
    )
    runtime = Runtime.build(settings)
    try:
        async with SandboxServer(create_sandbox_app(SandboxConfig())) as sandbox:
            async with runtime.sessionmaker() as session, session.begin():
                integration = await _connect(
                    session, runtime, sandbox.base_url, sync_direction="bidirectional"
                )
            yield Engine(runtime, sandbox.base_url, integration.id, integration.property_id)
    finally:
        await runtime.close()


def _statement_key(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper()
    if verb in ("INSERT", "DELETE"):  # INSERT INTO t, DELETE FROM t
        return f"{verb} {words[2]}"
    if verb == "UPDATE":
        return f"{verb} {words[1]}"
    return verb


@contextmanager
def counted_statements(engine: AsyncEngine) -> Iterator[Counter[str]]:
    """The statements run on ``engine`` inside the block, counted as "SELECT", "BEGIN", ...
    or "INSERT table" / "UPDATE table" / "DELETE table"."""
    counts: Counter[str] = Counter()

    def capture(_c: object, _cur: object, sql: str, _p: object, _ctx: object, _m: bool) -> None:
        counts[_statement_key(sql)] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield counts
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
