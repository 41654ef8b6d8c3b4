"""The built XML has exactly the protocol's shape (checked on the tree, not on strings)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from leadsync.resman.mits import (
    build_envelope,
    build_lead_management,
    parse_lead_management,
    safe_parse,
)
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Envelope,
    Event,
    Identification,
    Pet,
    Phone,
    Preferences,
    Prospect,
    RentRange,
)

LEAD = Prospect(
    customers=(
        Customer(
            customer_type=CustomerType.PROSPECT,
            identifications=(
                Identification("ProspectID", "p-1"),
                Identification("PersonID", "per-1"),
            ),
            first_name="Zoë",
            last_name="O'Brien & <Sons>",
            phones=(Phone("+15555550101"), Phone("+15555550102", "home")),
            email="zoe@example.com",
        ),
        Customer(first_name="Roomie"),
    ),
    preferences=Preferences(
        target_move_in_date=date(2024, 6, 1),
        desired_rent=RentRange(min=Decimal("1200"), max=Decimal("1500.50")),
        bedrooms_exact=2,
        bathrooms_exact=Decimal("1.5"),
        unit_marketing_name="204",
        lease_terms=12,
        pets=(Pet("Dog", 2), Pet("Cat")),
        occupants=3,
        comment="Near the gym",
    ),
    events=(
        Event(
            "Other",
            datetime(2024, 5, 1, 9, 30, 15, 987654, tzinfo=timezone(timedelta(hours=-5))),
            agent_id="emp-1",
            first_contact=True,
            transaction_source="Chatbot",
            comments="Qualified by the chatbot",
        ),
        Event("Appointment", datetime(2024, 5, 2, 15, 0, tzinfo=UTC)),
    ),
)


def _tree(data: bytes) -> etree._Element:
    return safe_parse(data)


def _one(root: etree._Element, path: str) -> etree._Element:
    (found,) = root.findall(path)
    return found


def _attrs(element: etree._Element) -> dict[str, str]:
    return {str(name): str(value) for name, value in element.attrib.items()}


def test_document_is_utf8_with_declaration_and_escapes_text() -> None:
    data = build_lead_management([LEAD])
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "Zoë".encode() in data
    assert b"O'Brien &amp; &lt;Sons&gt;" in data
    assert parse_lead_management(data)[0].lead.last_name == "O'Brien & <Sons>"


def test_customer_shape() -> None:
    root = _tree(build_lead_management([LEAD]))
    customers = root.findall("Prospects/Prospect/Customers/Customer")
    assert [c.get("Type") for c in customers] == ["prospect", "prospect"]
    lead = customers[0]
    idents = lead.findall("Identification")
    assert [_attrs(i) for i in idents] == [
        {"IDType": "ProspectID", "IDValue": "p-1", "OrganizationName": "ResMan"},
        {"IDType": "PersonID", "IDValue": "per-1", "OrganizationName": "ResMan"},
    ]
    assert all(len(i) == 0 for i in idents)  # attributes, never child elements
    assert lead.findtext("Name/FirstName") == "Zoë"
    assert [(p.get("PhoneType"), p.findtext("PhoneNumber")) for p in lead.findall("Phone")] == [
        ("cell", "+15555550101"),
        ("home", "+15555550102"),
    ]
    assert lead.findtext("Email") == "zoe@example.com"
    roomie = customers[1]
    assert [child.tag for child in roomie] == ["Name"]  # nothing unset is written
    assert [child.tag for child in roomie[0]] == ["FirstName"]


def test_preferences_shape() -> None:
    prefs = _one(_tree(build_lead_management([LEAD])), ".//CustomerPreferences")
    assert [child.tag for child in prefs] == [
        "TargetMoveInDate",
        "DesiredRent",
        "DesiredNumBedrooms",
        "DesiredNumBathrooms",
        "DesiredUnit",
        "DesiredLeaseTerms",
        "Pets",
        "Pets",
        "NumberOfOccupants",
        "Comment",
    ]
    assert prefs.findtext("TargetMoveInDate") == "2024-06-01"
    assert _attrs(_one(prefs, "DesiredRent")) == {"Min": "1200", "Max": "1500.50"}
    assert _attrs(_one(prefs, "DesiredNumBedrooms")) == {"Exact": "2"}
    assert _attrs(_one(prefs, "DesiredNumBathrooms")) == {"Exact": "1.5"}
    assert prefs.findtext("DesiredUnit/MarketingName") == "204"
    assert [_attrs(p) for p in prefs.findall("Pets")] == [
        {"PetType": "Dog", "Count": "2"},
        {"PetType": "Cat", "Count": "1"},
    ]


def test_event_shape_dates_in_utc_and_first_contact_only_when_true() -> None:
    first, second = _tree(build_lead_management([LEAD])).findall(".//Events/Event")
    # 09:30:15.987654 at -05:00 is 14:30:15 UTC; sub-seconds are dropped.
    assert _attrs(first) == {"EventType": "Other", "EventDate": "2024-05-01T14:30:15"}
    assert [child.tag for child in first] == [
        "Agent",
        "FirstContact",
        "TransactionSource",
        "Comments",
    ]
    assert _one(first, "Agent/AgentID").get("IDValue") == "emp-1"
    assert first.find("Agent/AgentName") is None
    assert first.findtext("FirstContact") == "true"
    assert _attrs(second) == {"EventType": "Appointment", "EventDate": "2024-05-02T15:00:00"}
    assert len(second) == 0  # no FirstContact when false, no empty Agent


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal(1500), "1500"),
        (Decimal("1500.50"), "1500.50"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1.5E-7"), "0.00000015"),
        (Decimal("-0"), "-0"),
    ],
)
def test_decimals_never_use_an_exponent(value: Decimal, text: str) -> None:
    prospect = Prospect(preferences=Preferences(desired_rent=RentRange(exact=value)))
    data = build_lead_management([prospect])
    assert _one(_tree(data), ".//DesiredRent").get("Exact") == text
    assert parse_lead_management(data) == [prospect]


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_decimals_are_refused(value: Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        build_lead_management([Prospect(preferences=Preferences(bathrooms_exact=value))])


def test_naive_event_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_lead_management([Prospect(events=(Event("Other", datetime(2024, 1, 1)),))])


def test_text_xml_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="XML compatible"):
        build_lead_management([Prospect(customers=(Customer(first_name="A\x00B"),))])


def test_empty_values_and_containers_are_omitted() -> None:
    prospect = Prospect(
        customers=(Customer(first_name="", email="", phones=(Phone(""),)),),
        preferences=Preferences(floorplan="", comment=None),
    )
    root = _tree(build_lead_management([prospect]))
    assert [child.tag for child in _one(root, ".//Prospect")] == [
        "Customers",
        "CustomerPreferences",
    ]
    assert len(_one(root, ".//Customer")) == 0
    assert len(_one(root, ".//CustomerPreferences")) == 0


def test_envelope_shape_with_and_without_prospects() -> None:
    envelope = Envelope("SearchProspects", "Success", account_id=400, property_id="prop-1")
    root = _tree(build_envelope(envelope))
    assert [child.tag for child in root] == [
        "MethodName",
        "Status",
        "ErrorDescription",
        "AccountID",
        "PropertyID",
        "Response",
    ]
    assert root.findtext("ErrorDescription") == ""
    assert root.findtext("AccountID") == "400"
    assert len(_one(root, "Response/LeadManagement/Prospects")) == 0

    error = Envelope("PostLeadManagement4_0", "Error", "Transaction Source could not be found")
    root = _tree(build_envelope(error, include_prospects=False))
    assert root.find("Response") is None
    assert root.findtext("ErrorDescription") == "Transaction Source could not be found"
    assert root.findtext("AccountID") == ""


def test_envelope_carries_its_prospects() -> None:
    root = _tree(build_envelope(Envelope("SearchProspects", "Success", prospects=(LEAD, LEAD))))
    assert len(root.findall("Response/LeadManagement/Prospects/Prospect")) == 2
