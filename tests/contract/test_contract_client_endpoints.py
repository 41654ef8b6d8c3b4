"""Every ResMan endpoint through the real client, against the real sandbox over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx2

from leadsync.resman import ResManAPI, ResManClient, ResManCredentials
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Event,
    EventType,
    Identification,
    IDType,
    Prospect,
)
from leadsync.sandbox import seed

MakeLead = Callable[..., Prospect]


def test_client_implements_the_interface(client: ResManClient) -> None:
    api: ResManAPI = client  # mypy checks the structural match
    assert api is client


async def test_post_create_returns_prospect_and_person_ids(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead
) -> None:
    created = await client.post_lead(
        creds=creds, prospect=make_lead(first_name="Ada", last_name="Quill", email="ada@x.test")
    )
    assert created.prospect_id
    assert created.person_id
    assert created.prospect_id != created.person_id
    [found] = await client.search_prospects(creds=creds, prospect_id=created.prospect_id)
    assert (found.prospect_id, found.person_id) == (created.prospect_id, created.person_id)
    assert (found.lead.first_name, found.lead.last_name) == ("Ada", "Quill")
    assert found.lead.email == "ada@x.test"
    assert found.lead.customer_type is CustomerType.PROSPECT


async def test_post_update_by_ids_changes_the_same_prospect(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead, chatbot_source: str
) -> None:
    created = await client.post_lead(
        creds=creds, prospect=make_lead(first_name="Bo", last_name="Reyes", email="bo@x.test")
    )
    assert created.prospect_id
    assert created.person_id
    ids = (
        Identification(IDType.PROSPECT_ID.value, created.prospect_id),
        Identification(IDType.PERSON_ID.value, created.person_id),
    )
    update = Prospect(
        customers=(
            Customer(
                identifications=ids, first_name="Bo", last_name="Reyes", email="bo.new@x.test"
            ),
        ),
        events=(
            Event(
                event_type=EventType.TEXT_TO_PROSPECT.value,
                event_date=datetime.now(UTC).replace(microsecond=0),
                transaction_source=chatbot_source,
                comments="Sent the floor plans",
            ),
        ),
    )
    updated = await client.post_lead(creds=creds, prospect=update)
    assert (updated.prospect_id, updated.person_id) == (created.prospect_id, created.person_id)
    [found] = await client.search_prospects(creds=creds, email="bo.new@x.test")
    assert found.prospect_id == created.prospect_id
    assert EventType.TEXT_TO_PROSPECT.value in [e.event_type for e in found.events]
    assert await client.search_prospects(creds=creds, email="bo@x.test") == []


async def test_search_by_email_phone_and_name(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead
) -> None:
    created = await client.post_lead(
        creds=creds,
        prospect=make_lead(
            first_name="Cyd", last_name="Okafor", email="Cyd.Okafor@x.test", phone="(512) 555-0134"
        ),
    )
    await client.post_lead(creds=creds, prospect=make_lead(first_name="Dee", last_name="Other"))
    by_email = await client.search_prospects(creds=creds, email="cyd.okafor@X.TEST")
    by_phone = await client.search_prospects(creds=creds, phone="512-555-0134")
    by_name = await client.search_prospects(creds=creds, first_name="Cyd", last_name="Okafor")
    for hits in (by_email, by_phone, by_name):
        assert [p.prospect_id for p in hits] == [created.prospect_id]
    assert await client.search_prospects(creds=creds, email="nobody@x.test") == []


async def test_search_by_modified_window(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    created = await client.post_lead(
        creds=creds, prospect=make_lead(first_name="Eli", last_name="Stone")
    )
    after = datetime.now(UTC) + timedelta(seconds=2)
    hits = await client.search_prospects(creds=creds, modified_start=before, modified_end=after)
    assert created.prospect_id in [p.prospect_id for p in hits]
    past = await client.search_prospects(
        creds=creds,
        modified_start=datetime(2001, 1, 1, tzinfo=UTC),
        modified_end=datetime(2001, 1, 2, tzinfo=UTC),
    )
    assert past == []


async def test_properties_are_isolated(
    client: ResManClient, creds: ResManCredentials, make_lead: MakeLead
) -> None:
    created = await client.post_lead(
        creds=creds, prospect=make_lead(first_name="Fay", last_name="Lund")
    )
    assert created.prospect_id
    other = replace(creds, property_id=seed.SANDBOX_PROPERTY_ID_2)
    assert await client.search_prospects(creds=other, prospect_id=created.prospect_id) == []


async def test_prospect_sources_include_chatbot(
    client: ResManClient, creds: ResManCredentials, chatbot_source: str
) -> None:
    sources = await client.get_prospect_sources(creds=creds)
    by_name = {s.name: s.id for s in sources}
    assert set(seed.PROSPECT_SOURCE_NAMES) <= set(by_name)
    assert by_name[seed.CHATBOT_SOURCE_NAME] == chatbot_source


async def test_lost_reasons_and_employees(client: ResManClient, creds: ResManCredentials) -> None:
    reasons = await client.get_lost_prospect_reasons(creds=creds)
    assert {r.name for r in reasons} == set(seed.LOST_REASON_NAMES)
    assert all(r.id for r in reasons)
    employees = await client.get_employees(creds=creds)
    assert {e.name for e in employees} == {name for name, _ in seed.EMPLOYEE_PROFILES}
    assert all(e.id and e.email and e.security_group for e in employees)


async def test_applicants_and_current_residents(
    client: ResManClient,
    creds: ResManCredentials,
    make_lead: MakeLead,
    admin: httpx2.AsyncClient,
) -> None:
    people_before = await client.get_applicants_and_current_residents(creds=creds)
    applicant = await client.post_lead(
        creds=creds, prospect=make_lead(first_name="Gus", last_name="Marsh")
    )
    resident = await client.post_lead(
        creds=creds, prospect=make_lead(first_name="Hal", last_name="Ng")
    )
    base = f"/admin/properties/{seed.SANDBOX_PROPERTY_ID}/prospects"
    for prospect, customer_type in ((applicant, "applicant"), (resident, "current_resident")):
        response = await admin.post(
            f"{base}/{prospect.prospect_id}/status", json={"customer_type": customer_type}
        )
        response.raise_for_status()
    people = await client.get_applicants_and_current_residents(creds=creds)
    statuses = {p.person_id: p.status for p in people}
    assert statuses[applicant.person_id or ""] == "Pending"
    assert statuses[resident.person_id or ""] == "Current"
    assert len(people) == len(people_before) + 2


async def test_properties_and_account_id(client: ResManClient, creds: ResManCredentials) -> None:
    account_creds = replace(creds, property_id=None)
    properties = await client.get_properties(creds=account_creds)
    assert {(p.property_id, p.name) for p in properties} >= {
        (seed.SANDBOX_PROPERTY_ID, seed.SANDBOX_PROPERTY_NAME),
        (seed.SANDBOX_PROPERTY_ID_2, seed.SANDBOX_PROPERTY_NAME_2),
    }
    account_id = await client.get_account_id(creds=account_creds, subdomain=seed.SANDBOX_SUBDOMAIN)
    assert account_id == seed.SANDBOX_ACCOUNT_ID


async def test_concurrent_calls_share_a_bounded_pool(
    sandbox_url: str, creds: ResManCredentials
) -> None:
    async with ResManClient(base_url=sandbox_url, max_connections=3) as small:
        results = await asyncio.gather(*(small.get_employees(creds=creds) for _ in range(30)))
    assert all(r == results[0] for r in results)
    assert len(results[0]) == len(seed.EMPLOYEE_PROFILES)
