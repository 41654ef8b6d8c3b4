"""ResMan's wire endpoints as the sandbox answers them, over real HTTP."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from lxml import etree

from leadsync.resman.mits import parse_envelope
from leadsync.resman.models import CustomerType, EventType
from leadsync.sandbox import seed
from sandbox.sandbox_kit import (
    CHATBOT,
    P1,
    P2,
    bulk,
    create,
    creds,
    find,
    lead,
    modified_at,
    post,
    put_faults,
    search,
)


@pytest.mark.parametrize(
    "wrong",
    [
        {"IntegrationPartnerID": "someone-else"},
        {"ApiKey": "not-the-key"},
        {"AccountID": "401"},
        {"AccountID": "four hundred"},
        {"PropertyID": "00000000-0000-4000-8000-000000000000"},
        {"PropertyID": None},
        {"ApiKey": None},
    ],
)
async def test_wrong_credentials_are_a_business_error(
    http: httpx2.AsyncClient, wrong: dict[str, Any]
) -> None:
    mits = await http.post("/MITS/SearchProspects", data={**creds(**wrong), "Email": "a@b.test"})
    leasing = await http.post("/Leasing/GetProspectSources", data=creds(**wrong))

    assert (mits.status_code, leasing.status_code) == (200, 200)
    envelope = parse_envelope(mits.content)
    assert (envelope.status, envelope.error_description) == ("Error", "Invalid credentials")
    assert leasing.json()["Status"] == "Failed"
    assert leasing.json()["ErrorDescription"] == "Invalid credentials"
    assert "ProspectSources" not in leasing.json()


async def test_a_property_of_another_account_is_refused(http: httpx2.AsyncClient) -> None:
    made = await http.post("/admin/accounts", json={"name": "Other PM"})
    other = made.json()["account_id"]
    prop = await http.post(f"/admin/accounts/{other}/properties", json={"name": "Elsewhere"})
    foreign = prop.json()["property_id"]

    response = await http.post("/Leasing/GetEmployees", data=creds(PropertyID=foreign))

    assert response.json()["ErrorDescription"] == "Invalid credentials"


async def test_paths_and_parameter_names_are_case_insensitive(http: httpx2.AsyncClient) -> None:
    fields = {k.lower(): v for k, v in creds(PropertyID=P1.upper()).items()}
    response = await http.post("/leasing/getprospectsources", data=fields)

    body = response.json()
    assert body["Status"] == "Success"
    assert body["PropertyID"] == P1
    assert seed.CHATBOT_SOURCE_NAME in [s["Name"] for s in body["ProspectSources"]]


async def test_unknown_method_is_404(http: httpx2.AsyncClient) -> None:
    response = await http.post("/MITS/DeleteEverything", data=creds())
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("accept", "xml"),
    [
        (None, False),
        ("application/json", False),
        ("application/xml", True),
        ("text/xml, application/json;q=0.5", True),
        ("application/json, application/xml", False),
    ],
)
async def test_leasing_answers_json_or_xml_by_accept(
    http: httpx2.AsyncClient, accept: str | None, xml: bool
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = await http.post("/Leasing/GetProspectSources", data=creds(), headers=headers)

    assert response.headers["content-type"].startswith(
        "application/xml" if xml else "application/json"
    )
    if xml:
        root = etree.fromstring(response.content)
        assert root.findtext("Status") == "Success"
        names = [e.findtext("Name") for e in root.iterfind("ProspectSources/ProspectSource")]
    else:
        names = [s["Name"] for s in response.json()["ProspectSources"]]
    assert names == list(seed.PROSPECT_SOURCE_NAMES)


async def test_mits_answers_xml_whatever_the_accept(http: httpx2.AsyncClient) -> None:
    response = await http.post(
        "/MITS/SearchProspects",
        data={**creds(), "Email": "nobody@x.test"},
        headers={"Accept": "application/json"},
    )
    envelope = parse_envelope(response.content)
    assert (envelope.method_name, envelope.status, envelope.prospects) == (
        "SearchProspects",
        "Success",
        (),
    )


async def test_create_returns_prospect_and_person_ids(http: httpx2.AsyncClient) -> None:
    envelope = await post(http, [lead(email="ann@example.test")])

    assert (envelope.status, envelope.method_name) == ("Success", "PostLeadManagement4_0")
    assert (envelope.account_id, envelope.property_id) == (seed.SANDBOX_ACCOUNT_ID, P1)
    (created,) = envelope.prospects
    assert created.prospect_id is not None
    assert created.person_id is not None
    # Both are GUIDs, and distinct.
    assert uuid.UUID(created.prospect_id) != uuid.UUID(created.person_id)
    assert created.lead.customer_type is CustomerType.PROSPECT
    assert await find(http, created.prospect_id) == created


async def test_update_by_ids_merges_and_bumps_modified_time(http: httpx2.AsyncClient) -> None:
    created = await create(http, lead(email="ann@example.test", phone="555-010-0001"))
    ids = (created.prospect_id or "", created.person_id or "")
    before = await modified_at(http, ids[0])

    update = lead(
        first_name=None,
        last_name=None,
        email="ann.lee@example.test",
        ids=ids,
        customer_type=CustomerType.APPLICANT,
        event_type=EventType.APPLICATION.value,
    )
    envelope = await post(http, [update])

    assert envelope.ok, envelope.error_description
    stored = await find(http, ids[0])
    assert (stored.prospect_id, stored.person_id) == ids
    assert (stored.lead.first_name, stored.lead.last_name) == ("Ann", "Lee")
    assert stored.lead.email == "ann.lee@example.test"
    assert [p.number for p in stored.lead.phones] == ["555-010-0001"]
    assert stored.lead.customer_type is CustomerType.APPLICANT
    assert [e.event_type for e in stored.events] == ["Other", "Application"]
    assert await modified_at(http, ids[0]) > before
    assert len((await search(http, Email="ann.lee@example.test")).prospects) == 1
    assert (await search(http, Email="ann@example.test")).prospects == ()


async def test_unknown_transaction_source_is_refused_and_nothing_is_stored(
    http: httpx2.AsyncClient,
) -> None:
    other_property_source = seed.prospect_source_id(P2, seed.CHATBOT_SOURCE_NAME)
    for source in ("not-a-source", other_property_source):
        envelope = await post(http, [lead(source=source, email="x@example.test")])
        assert envelope.status == "Error"
        assert envelope.error_description == "Transaction Source could not be found"
    assert (await search(http, Email="x@example.test")).prospects == ()


async def test_unknown_prospect_id_is_refused(http: httpx2.AsyncClient) -> None:
    created = await create(http, lead())
    unknown = ("9f0d8c1e-1111-4222-8333-444455556666", created.person_id or "")
    wrong_person = (created.prospect_id or "", "9f0d8c1e-1111-4222-8333-444455556666")
    for ids in (unknown, wrong_person):
        envelope = await post(http, [lead(ids=ids)])
        assert (envelope.status, envelope.error_description) == (
            "Error",
            "Prospect could not be found",
        )


@pytest.mark.parametrize(
    ("xml", "problem"),
    [
        ("<LeadManagement><Prospects><Prospect>", "invalid Xml"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
            "<LeadManagement><Prospects/></LeadManagement>",
            "invalid Xml",
        ),
        ("<LeadManagement><Prospects/></LeadManagement>", "no Prospect"),
        ("", "Xml is required"),
    ],
)
async def test_bad_documents_are_validation_errors(
    http: httpx2.AsyncClient, xml: str, problem: str
) -> None:
    response = await http.post("/MITS/PostLeadManagement4_0", data={**creds(), "Xml": xml})
    envelope = parse_envelope(response.content)
    assert envelope.status == "Error"
    assert (envelope.error_description or "").startswith("Validation error")
    assert problem in (envelope.error_description or "")


async def test_a_new_prospect_needs_both_names(http: httpx2.AsyncClient) -> None:
    envelope = await post(http, [lead(last_name=" ", email="nameless@example.test")])
    assert envelope.status == "Error"
    assert "FirstName and LastName" in (envelope.error_description or "")


async def test_search_by_each_criterion(http: httpx2.AsyncClient) -> None:
    ann = await create(http, lead("Ann", "Lee", email="Ann.Lee@Example.test", phone="5550100001"))
    await create(http, lead("Bob", "Ray", email="bob@example.test", phone="+1 (555) 010-0002"))

    async def ids(**params: str) -> list[str | None]:
        return [p.prospect_id for p in (await search(http, **params)).prospects]

    assert await ids(Email="ann.lee@example.TEST") == [ann.prospect_id]
    assert await ids(Phone="(555) 010-0001") == [ann.prospect_id]
    assert await ids(Phone="+15550100001") == [ann.prospect_id]
    assert await ids(FirstName="ann", LastName="LEE") == [ann.prospect_id]
    assert await ids(ProspectID=(ann.prospect_id or "").upper()) == [ann.prospect_id]
    assert await ids(Email="nobody@example.test") == []
    assert await ids(FirstName="Ann", LastName="Ray") == []
    # The other property holds none of them.
    p2 = {**creds(PropertyID=P2), "Email": "ann.lee@example.test"}
    other = await http.post("/MITS/SearchProspects", data=p2)
    assert parse_envelope(other.content).prospects == ()


@pytest.mark.parametrize(
    "params",
    [{}, {"FirstName": "Ann"}, {"ModifiedStartDateTime": "2024-01-01T00:00:00"}],
)
async def test_search_without_a_full_criterion_is_a_validation_error(
    http: httpx2.AsyncClient, params: dict[str, str]
) -> None:
    envelope = await search(http, **params)
    assert envelope.status == "Error"
    assert (envelope.error_description or "").startswith("Validation error")


T0 = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        ("2023-06-01T12:00:00", "2023-06-01T12:00:01", 1),  # start inclusive, naive = UTC
        ("2023-06-01T11:59:00", "2023-06-01T12:00:00", 0),  # end exclusive
        ("2023-06-01T14:00:00+02:00", "2023-06-01T14:00:00.500000+02:00", 1),  # offsets
        ("2023-06-01T11:59:59.999Z", "2023-06-01T12:00:00.000001Z", 1),
        ("2023-06-01", "2023-06-02", 1),  # bare dates
        ("2023-06-01T12:00:01", "2023-06-01T13:00:00", 0),
    ],
)
async def test_window_start_is_inclusive_and_end_exclusive(
    http: httpx2.AsyncClient, start: str, end: str, count: int
) -> None:
    # One prospect modified at exactly T0 (bulk times are whole seconds within the window).
    await bulk(http, count=1, start=T0, end=T0 + timedelta(microseconds=1))
    envelope = await search(http, ModifiedStartDateTime=start, ModifiedEndDateTime=end)
    assert envelope.status == "Success"
    assert len(envelope.prospects) == count


async def test_window_holding_too_many_is_a_502_buffer_overflow(http: httpx2.AsyncClient) -> None:
    await bulk(http, count=30, start=T0, end=T0 + timedelta(minutes=30))
    await put_faults(http, overflow_threshold=10)
    window = {"ModifiedStartDateTime": "2023-06-01T00:00:00", "ModifiedEndDateTime": "2023-06-02"}

    response = await http.post("/MITS/SearchProspects", data={**creds(), **window})

    assert response.status_code == 502
    assert "buffer overflow" in response.text
    # Ten or fewer pass: the first ten minutes hold about a third of them.
    await put_faults(http, overflow_threshold=30)
    everything = await search(http, **window)
    assert len(everything.prospects) == 30
    stamps = [e.event_date for p in everything.prospects for e in p.events]
    assert stamps == sorted(stamps)  # oldest change first
    stats = (await http.get("/admin/stats")).json()
    assert stats["faults_injected"] == {"overflow": 1}


async def test_lookup_endpoints(http: httpx2.AsyncClient) -> None:
    reasons = await http.post("/Leasing/GetLostProspectReasons", data=creds(PropertyID=None))
    employees = await http.post("/Leasing/GetEmployees", data=creds())
    properties = await http.post("/Account/GetProperties", data=creds(PropertyID=None))
    account = await http.post(
        "/Account/GetAccountID",
        data={**creds(AccountID=None, PropertyID=None), "Subdomain": "SANDBOX"},
    )

    assert [r["Name"] for r in reasons.json()["LostProspectReasons"]] == list(
        seed.LOST_REASON_NAMES
    )
    staff = employees.json()["Employees"]
    assert len(staff) == len(seed.EMPLOYEE_PROFILES)
    assert set(staff[0]) == {"ID", "Name", "Email", "SecurityGroup"}
    assert {p["PropertyID"] for p in properties.json()["Properties"]} == {P1, P2}
    assert account.json()["AccountID"] == seed.SANDBOX_ACCOUNT_ID
    missing = await http.post(
        "/Account/GetAccountID",
        data={**creds(AccountID=None, PropertyID=None), "Subdomain": "nope"},
    )
    assert missing.json()["Status"] == "Failed"


async def test_applicants_and_residents_come_from_prospect_types(http: httpx2.AsyncClient) -> None:
    applicant = await create(http, lead("Ann", "Lee", customer_type=CustomerType.APPLICANT))
    resident = await create(http, lead("Bob", "Ray", customer_type=CustomerType.CURRENT_RESIDENT))
    await create(http, lead("Cy", "Fox"))

    response = await http.post("/Leasing/GetApplicantsAndCurrentResidents", data=creds())

    people = {p["PersonID"]: p["Status"] for p in response.json()["People"]}
    assert people == {applicant.person_id: "Pending", resident.person_id: "Current"}


async def test_agent_names_are_filled_from_employee_ids(http: httpx2.AsyncClient) -> None:
    agent = seed.employee_id(P1, seed.EMPLOYEE_PROFILES[0][0])
    created = await create(http, lead())
    posted = lead(ids=(created.prospect_id or "", created.person_id or ""))
    event = posted.events[0]
    posted = replace(posted, events=(replace(event, agent_id=agent, transaction_source=None),))
    await post(http, [posted])

    stored = await find(http, created.prospect_id or "")
    assert stored.events[-1].agent_name == seed.EMPLOYEE_PROFILES[0][0]
    assert stored.events[0].transaction_source == CHATBOT
