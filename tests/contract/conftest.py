"""A real sandbox on 127.0.0.1 (free port) and the real client talking to it over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from leadsync.resman import ResManClient, ResManCredentials
from leadsync.resman.models import Customer, Event, EventType, Phone, Prospect
from leadsync.sandbox import seed
from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.server import SandboxServer

SetFaults = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def sandbox_url() -> AsyncIterator[str]:
    """Base URL of a fresh in-memory sandbox with the default tenant seeded."""
    async with SandboxServer(create_sandbox_app(SandboxConfig())) as server:
        yield server.base_url


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=sandbox_url, timeout=30.0) as http:
        yield http


@pytest.fixture
def set_faults(admin: httpx2.AsyncClient) -> SetFaults:
    """``await set_faults(http_error_rate=1.0, ...)``: replace the sandbox's FaultConfig."""

    async def put(**fields: Any) -> dict[str, Any]:
        response = await admin.put("/admin/faults", json=fields)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    return put


@pytest.fixture
def creds() -> ResManCredentials:
    return ResManCredentials(
        partner_id=seed.SANDBOX_PARTNER_ID,
        api_key=seed.SANDBOX_API_KEY,
        account_id=seed.SANDBOX_ACCOUNT_ID,
        property_id=seed.SANDBOX_PROPERTY_ID,
    )


@pytest.fixture
async def client(sandbox_url: str) -> AsyncIterator[ResManClient]:
    async with ResManClient(
        base_url=sandbox_url, timeout=httpx2.Timeout(15.0, connect=5.0)
    ) as resman:
        yield resman


@pytest.fixture
def chatbot_source() -> str:
    """The "Chatbot" TransactionSource id of the default property."""
    return seed.prospect_source_id(seed.SANDBOX_PROPERTY_ID, seed.CHATBOT_SOURCE_NAME)


def new_lead(
    *,
    first_name: str,
    last_name: str,
    source: str,
    email: str | None = None,
    phone: str | None = None,
) -> Prospect:
    """A chatbot lead as the push flow posts it (no ids: a create)."""
    return Prospect(
        customers=(
            Customer(
                first_name=first_name,
                last_name=last_name,
                email=email,
                phones=(Phone(phone),) if phone else (),
            ),
        ),
        events=(
            Event(
                event_type=EventType.OTHER.value,
                event_date=datetime.now(UTC).replace(microsecond=0),
                first_contact=True,
                transaction_source=source,
                comments="Asked about a two-bedroom",
            ),
        ),
    )


@pytest.fixture
def make_lead(chatbot_source: str) -> Callable[..., Prospect]:
    """``make_lead(first_name=..., last_name=..., email=..., phone=...)``: a Chatbot lead."""

    def build(**fields: Any) -> Prospect:
        return new_lead(source=fields.pop("source", chatbot_source), **fields)

    return build
