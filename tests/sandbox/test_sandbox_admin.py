"""The admin API: tenants, staff actions as ResMan records them, bulk data, OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from leadsync.resman.models import CustomerType, Prospect
from leadsync.sandbox import seed
from sandbox.sandbox_kit import P1, P2, bulk, create, creds, find, lead, modified_at, search

PROSPECTS = f"/admin/properties/{P1}/prospects"
AGENT_NAME = seed.EMPLOYEE_PROFILES[1][0]
AGENT_ID = seed.employee_id(P1, AGENT_NAME)


async def staff(http: httpx2.AsyncClient, prospect_id: str, action: str, **body: Any) -> Any:
    response = await http.post(f"{PROSPECTS}/{prospect_id}/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def walk_in(http: httpx2.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post(PROSPECTS, json={"first_name": "Wes", "last_name": "Walker", **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def prospect(http: httpx2.AsyncClient) -> Prospect:
    return await create(http, lead(email="ann@example.test"))


def pid(prospect: Prospect) -> str:
    return prospect.prospect_id or ""


@pytest.mark.parametrize(
    ("action", "body", "customer_type", "event_type"),
    [
        ("status", {"customer_type": "applicant"}, CustomerType.APPLICANT, "Application"),
        (
            "status",
            {"customer_type": "current_resident", "event_type": "LeaseSign"},
            CustomerType.CURRENT_RESIDENT,
            "LeaseSign",
        ),
        ("status", {"customer_type": "prospect", "event_type": "CallToProspect"}, None, None),
        ("notes", {"text": "Prefers the top floor"}, CustomerType.PROSPECT, "Other"),
        ("tours/complete", {"comments": "Loved it"}, CustomerType.PROSPECT, "Show"),
        ("reactivate", {}, CustomerType.PROSPECT, "ReActivate"),
    ],
)
async def test_staff_action_shows_in_search_prospects(
    http: httpx2.AsyncClient,
    prospect: Prospect,
    action: str,
    body: dict[str, Any],
    customer_type: CustomerType | None,
    event_type: str | None,
) -> None:
    before = await modified_at(http, pid(prospect))
    answer = await staff(http, pid(prospect), action, agent_id=AGENT_ID, **body)

    stored = await find(http, pid(prospect))
    expected_type = customer_type or CustomerType.PROSPECT
    assert stored.lead.customer_type is expected_type
    assert answer["status"] == expected_type.value
    event = stored.events[-1]
    assert event.event_type == (event_type or body.get("event_type"))
    assert (event.agent_id, event.agent_name) == (AGENT_ID, AGENT_NAME)
    assert event.comments == (body.get("text") or body.get("comments"))
    assert len(stored.events) == 2
    assert await modified_at(http, pid(prospect)) > before


async def test_book_tour_is_an_appointment_at_the_start_in_utc(
    http: httpx2.AsyncClient, prospect: Prospect
) -> None:
    await staff(http, pid(prospect), "tours", start="2024-07-01T10:00:00-05:00")
    await staff(http, pid(prospect), "tours", start="2024-07-02T09:30:00", comments="naive=UTC")

    tours = [e for e in (await find(http, pid(prospect))).events if e.event_type == "Appointment"]
    assert [t.event_date for t in tours] == [
        datetime(2024, 7, 1, 15, 0, tzinfo=UTC),
        datetime(2024, 7, 2, 9, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "reason", [{"reason": "price TOO high"}, {"reason_id": "by-id"}], ids=["name", "id"]
)
async def test_mark_lost_records_type_lost_and_a_cancel_with_the_reason(
    http: httpx2.AsyncClient, prospect: Prospect, reason: dict[str, str]
) -> None:
    reason_id = seed.lost_reason_id(seed.SANDBOX_ACCOUNT_ID, "Price too high")
    if "reason_id" in reason:
        reason = {"reason_id": reason_id}
    await staff(http, pid(prospect), "lost", **reason)

    stored = await find(http, pid(prospect))
    cancel = stored.events[-1]
    assert stored.lead.customer_type is CustomerType.LOST
    assert (cancel.event_type, cancel.event_reasons, cancel.transaction_source) == (
        "Cancel",
        "Prospect Lost: Price too high",
        reason_id,
    )
    await staff(http, pid(prospect), "reactivate")
    assert (await find(http, pid(prospect))).lead.customer_type is CustomerType.PROSPECT


async def test_contact_edit_changes_only_the_given_fields(
    http: httpx2.AsyncClient, prospect: Prospect
) -> None:
    answer = await staff(http, pid(prospect), "contact", email="ann.new@example.test")

    stored = await find(http, pid(prospect))
    assert (stored.lead.first_name, stored.lead.email) == ("Ann", "ann.new@example.test")
    assert len(stored.events) == 1  # no event for a contact edit
    assert answer["email"] == "ann.new@example.test"
    assert (await search(http, Email="ann.new@example.test")).prospects[0] == stored


async def test_changes_get_strictly_increasing_modified_times(
    http: httpx2.AsyncClient, prospect: Prospect
) -> None:
    stamps = [await modified_at(http, pid(prospect))]
    for n in range(5):
        stamps.append(
            datetime.fromisoformat(
                (await staff(http, pid(prospect), "notes", text=f"note {n}"))["modified_at"]
            )
        )
    assert stamps == sorted(set(stamps))


async def test_staff_created_prospect_is_a_walk_in_with_ids(http: httpx2.AsyncClient) -> None:
    created = await walk_in(http, email="wes@example.test", phone="5550100009", source="zillow")

    stored = await find(http, created["prospect_id"])
    event = stored.events[0]
    assert stored.person_id == created["person_id"]
    assert (event.event_type, event.first_contact) == ("WalkIn", True)
    assert event.transaction_source == seed.prospect_source_id(P1, "Zillow")
    assert (await search(http, Phone="555-010-0009")).prospects == (stored,)


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        (f"{PROSPECTS}/00000000-0000-4000-8000-000000000000/notes", {"text": "x"}, 404),
        (
            "/admin/properties/00000000-0000-4000-8000-000000000000/prospects",
            {"first_name": "A", "last_name": "B"},
            404,
        ),
        ("{prospect}/notes", {"text": "x", "agent_id": "not-an-employee"}, 422),
        ("{prospect}/lost", {}, 422),
        ("{prospect}/lost", {"reason": "Moved to Mars"}, 422),
        ("{prospect}/status", {"customer_type": "tenant"}, 422),
        (PROSPECTS, {"first_name": "A", "last_name": "B", "source": "Carrier pigeon"}, 422),
        ("/admin/accounts", {"account_id": seed.SANDBOX_ACCOUNT_ID, "name": "dup"}, 409),
        ("/admin/accounts/999/properties", {"name": "Nowhere"}, 404),
        ("/admin/partners", {"partner_id": "p", "api_key": "k", "account_ids": [999]}, 404),
    ],
)
async def test_bad_admin_calls_get_clear_errors(
    http: httpx2.AsyncClient, prospect: Prospect, path: str, body: dict[str, Any], status: int
) -> None:
    url = path.replace("{prospect}", f"{PROSPECTS}/{pid(prospect)}")
    response = await http.post(url, json=body)
    assert response.status_code == status, response.text
    assert (await find(http, pid(prospect))).events == prospect.events  # nothing changed


async def test_new_tenant_works_on_the_wire(http: httpx2.AsyncClient) -> None:
    account = (await http.post("/admin/accounts", json={"name": "Acme PM"})).json()
    number = account["account_id"]
    prop = (
        await http.post(
            f"/admin/accounts/{number}/properties",
            json={"name": "Acme Lofts", "property_id": "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"},
        )
    ).json()
    partner = await http.post(
        "/admin/partners", json={"partner_id": "acme", "api_key": "k3y", "account_ids": [number]}
    )

    assert number == seed.SANDBOX_ACCOUNT_ID + 1
    assert prop["property_id"] == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    assert "Chatbot" in [s["name"] for s in prop["prospect_sources"]]
    assert partner.json() == {"partner_id": "acme", "account_ids": [number]}  # no key echoed
    acme = creds(
        IntegrationPartnerID="acme", ApiKey="k3y", AccountID=number, PropertyID=prop["property_id"]
    )
    answer = await http.post("/Leasing/GetProspectSources", data=acme)
    assert answer.json()["Status"] == "Success"
    # The default partner has no access to the new account.
    default = await http.post(
        "/Leasing/GetProspectSources", data=creds(AccountID=number, PropertyID=prop["property_id"])
    )
    assert default.json()["ErrorDescription"] == "Invalid credentials"


async def test_listing_prospects_by_modified_time(http: httpx2.AsyncClient) -> None:
    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    await bulk(http, count=40, start=t0, end=t0 + timedelta(days=1))
    await bulk(http, count=5, start=t0, end=t0 + timedelta(days=1), prop=P2)

    everything = (await http.get(PROSPECTS)).json()
    late = (await http.get(PROSPECTS, params={"modified_since": "2023-01-01T12:00:00"})).json()
    few = (await http.get(PROSPECTS, params={"limit": 3})).json()

    assert everything["total"] == 40
    stamps = [p["modified_at"] for p in everything["prospects"]]
    assert stamps == sorted(stamps)
    assert late["total"] == sum(s >= "2023-01-01T12:00:00" for s in stamps)
    assert (few["total"], len(few["prospects"])) == (40, 3)
    props = {p["property_id"]: p["prospects"] for p in (await http.get("/admin/properties")).json()}
    assert props == {P1: 40, P2: 5}


async def test_bulk_is_seeded_and_searchable(http: httpx2.AsyncClient) -> None:
    t0 = datetime(2023, 3, 1, tzinfo=UTC)
    await bulk(http, count=25, start=t0, end=t0 + timedelta(hours=1))
    window = {"ModifiedStartDateTime": t0.isoformat(), "ModifiedEndDateTime": "2023-03-01T01:00"}
    found = (await search(http, **window)).prospects
    assert len(found) == 25
    assert all(p.prospect_id and p.person_id and p.lead.email for p in found)
    # Same seed, other property: the same generated people (ids included).
    await bulk(http, count=25, start=t0, end=t0 + timedelta(hours=1), prop=P2)
    p2 = (await http.get(f"/admin/properties/{P2}/prospects")).json()["prospects"]
    assert {p["prospect_id"] for p in p2} == {p.prospect_id for p in found}


async def test_openapi_documents_the_admin_api(http: httpx2.AsyncClient) -> None:
    document = (await http.get("/admin/openapi.json")).json()
    paths = document["paths"]
    staff_paths = {
        p.rsplit("}/", 1)[-1]
        for p in paths
        if p.startswith("/admin/properties/{property_id}/prospects/{prospect_id}/")
    }
    assert staff_paths == {
        "status",
        "notes",
        "tours",
        "tours/complete",
        "lost",
        "reactivate",
        "contact",
    }
    for path in ("/admin/faults", "/admin/stats", "/admin/webhook", "/admin/accounts"):
        assert path in paths
    put_faults = paths["/admin/faults"]["put"]
    assert put_faults["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FaultConfig"
    }
    assert (await http.get("/admin/docs")).status_code == 200
