"""Helpers for the sandbox's own tests: plain httpx2 over the wire protocol (deliberately not
leadsync's ResMan client, so the sandbox is checked against the protocol, not the client)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx2

from leadsync.resman.mits import build_lead_management, parse_envelope
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Envelope,
    Event,
    EventType,
    Identification,
    Phone,
    Prospect,
)
from leadsync.sandbox import seed

P1 = seed.SANDBOX_PROPERTY_ID
P2 = seed.SANDBOX_PROPERTY_ID_2
CHATBOT = seed.prospect_source_id(P1, seed.CHATBOT_SOURCE_NAME)


def creds(**overrides: Any) -> dict[str, Any]:
    """The default tenant's credentials as form fields (override or drop with None)."""
    fields: dict[str, Any] = {
        "IntegrationPartnerID": seed.SANDBOX_PARTNER_ID,
        "ApiKey": seed.SANDBOX_API_KEY,
        "AccountID": seed.SANDBOX_ACCOUNT_ID,
        "PropertyID": P1,
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def lead(
    first_name: str | None = "Ann",
    last_name: str | None = "Lee",
    *,
    email: str | None = None,
    phone: str | None = None,
    source: str | None = CHATBOT,
    customer_type: CustomerType = CustomerType.PROSPECT,
    ids: tuple[str, str] | None = None,
    event_type: str = EventType.OTHER.value,
) -> Prospect:
    """A posted prospect; with `ids` (ProspectID, PersonID) it is an update."""
    identifications = (
        (Identification("ProspectID", ids[0]), Identification("PersonID", ids[1])) if ids else ()
    )
    customer = Customer(
        customer_type=customer_type,
        identifications=identifications,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phones=(Phone(phone),) if phone else (),
    )
    event = Event(
        event_type=event_type,
        event_date=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        first_contact=ids is None,
        transaction_source=source,
        comments="Asked about a two-bedroom",
    )
    return Prospect(customers=(customer,), events=(event,))


async def post(
    http: httpx2.AsyncClient, prospects: Sequence[Prospect], **overrides: Any
) -> Envelope:
    xml = build_lead_management(prospects).decode()
    response = await http.post(
        "/MITS/PostLeadManagement4_0", data={**creds(**overrides), "Xml": xml}
    )
    assert response.status_code == 200
    return parse_envelope(response.content)


async def create(http: httpx2.AsyncClient, prospect: Prospect, **overrides: Any) -> Prospect:
    """Post a new prospect and return it as the sandbox stored it (with ids)."""
    envelope = await post(http, [prospect], **overrides)
    assert envelope.ok, envelope.error_description
    (created,) = envelope.prospects
    return created


async def search(http: httpx2.AsyncClient, **params: Any) -> Envelope:
    response = await http.post("/MITS/SearchProspects", data={**creds(), **params})
    assert response.status_code == 200, response.text
    return parse_envelope(response.content)


async def find(http: httpx2.AsyncClient, prospect_id: str, **overrides: Any) -> Prospect:
    envelope = await search(http, ProspectID=prospect_id, **overrides)
    (found,) = envelope.prospects
    return found


async def modified_at(http: httpx2.AsyncClient, prospect_id: str, *, prop: str = P1) -> datetime:
    response = await http.get(f"/admin/properties/{prop}/prospects/{prospect_id}")
    response.raise_for_status()
    return datetime.fromisoformat(response.json()["modified_at"])


async def put_faults(http: httpx2.AsyncClient, **fields: Any) -> None:
    response = await http.put("/admin/faults", json=fields)
    response.raise_for_status()


async def bulk(
    http: httpx2.AsyncClient, *, count: int, start: datetime, end: datetime, prop: str = P1
) -> None:
    response = await http.post(
        f"/admin/properties/{prop}/prospects/bulk",
        json={
            "count": count,
            "modified_from": start.isoformat(),
            "modified_to": end.isoformat(),
            "seed": 7,
        },
    )
    response.raise_for_status()
