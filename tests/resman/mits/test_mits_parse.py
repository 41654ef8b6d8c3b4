"""Parsing hand-written MITS documents shaped like ResMan's real answers, traps included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from leadsync.resman.errors import MalformedXMLError
from leadsync.resman.mits import parse_envelope, parse_lead_management, parse_prospect, safe_parse
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Event,
    Identification,
    Pet,
    Phone,
    Preferences,
    Prospect,
    RentRange,
)

# One of everything: a single Prospect, Customer, Identification, Phone and Event, inside a
# default namespace, with an unknown element, a comment and padded text thrown in.
SINGLES = b"""<?xml version="1.0" encoding="utf-8"?>
<ResMan xmlns="http://my-company.com/namespace">
  <MethodName>SearchProspects</MethodName>
  <Status>Success</Status>
  <ErrorDescription />
  <AccountID> 400 </AccountID>
  <PropertyID>6a1b2c3d-0000-4000-8000-000000000001</PropertyID>
  <Response>
    <LeadManagement>
      <Prospects>
        <Prospect>
          <!-- comments are not data -->
          <Customers>
            <Customer Type="prospect">
              <Identification IDType="ProspectID" IDValue="p-1" OrganizationName="ResMan"/>
              <Name><FirstName>  Ada </FirstName><MiddleName>X</MiddleName>
                <LastName>Lovelace</LastName></Name>
              <Phone PhoneType="cell"><PhoneNumber>+15555550101</PhoneNumber></Phone>
              <Email>ada@example.com</Email>
              <Address><City>Dallas</City></Address>
            </Customer>
          </Customers>
          <Events>
            <Event EventType="Show" EventDate="2024-03-01T15:30:00">
              <Agent><AgentID IDValue="emp-9"/><AgentName>Sam Agent</AgentName></Agent>
              <TransactionSource>Chatbot</TransactionSource>
            </Event>
          </Events>
        </Prospect>
      </Prospects>
    </LeadManagement>
  </Response>
</ResMan>"""

ADA = Customer(
    customer_type=CustomerType.PROSPECT,
    identifications=(Identification("ProspectID", "p-1"),),
    first_name="Ada",
    last_name="Lovelace",
    phones=(Phone("+15555550101", "cell"),),
    email="ada@example.com",
)
SHOW = Event(
    event_type="Show",
    event_date=datetime(2024, 3, 1, 15, 30, tzinfo=UTC),
    agent_id="emp-9",
    agent_name="Sam Agent",
    transaction_source="Chatbot",
)

# Several of everything: roommates, phones, identifications of two organisations, events.
MANY = b"""<LeadManagement><Prospects>
<Prospect>
  <Customers>
    <Customer Type="applicant">
      <Identification IDType="ProspectID" IDValue="p-2" OrganizationName="ResMan"/>
      <Identification IDType="PersonID" IDValue="per-2" OrganizationName="ResMan"/>
      <Identification IDType="PersonID" IDValue="ils-77" OrganizationName="Zillow"/>
      <Identification IDType="PersonID" IDValue="" OrganizationName="ResMan"/>
      <Name><FirstName>Bo</FirstName><LastName>Main</LastName></Name>
      <Phone PhoneType="home"><PhoneNumber>+15555550102</PhoneNumber></Phone>
      <Phone PhoneType="office"><PhoneNumber>+15555550103</PhoneNumber></Phone>
      <Phone PhoneType="cell"><PhoneNumber/></Phone>
      <Phone><PhoneNumber>+15555550104</PhoneNumber></Phone>
    </Customer>
    <Customer Type="Applicant">
      <Identification IDType="PersonID" IDValue="per-3"/>
      <Name><FirstName>Cy</FirstName><LastName>Roommate</LastName></Name>
    </Customer>
    <Customer><Name><FirstName>Di</FirstName></Name></Customer>
  </Customers>
  <CustomerPreferences>
    <TargetMoveInDate>2024-06-15T00:00:00-05:00</TargetMoveInDate>
    <DesiredRent Min=" 1200 " Max="1500.50"/>
    <DesiredNumBedrooms Exact="2.0" Max=" 3"/>
    <DesiredNumBathrooms Exact="1.5"/>
    <DesiredFloorplan>B2</DesiredFloorplan>
    <DesiredUnit><MarketingName>204</MarketingName></DesiredUnit>
    <DesiredLeaseTerms> 12 </DesiredLeaseTerms>
    <Pets PetType="Dog" Count="2"/>
    <Pets PetType="Cat"/>
    <NumberOfOccupants>3</NumberOfOccupants>
    <Comment>Quiet unit please</Comment>
    <Amenities>Pool</Amenities>
  </CustomerPreferences>
  <Events>
    <Event EventType="EmailFromILS" EventDate="2024-02-01">
      <FirstContact>True</FirstContact>
      <TransactionSource>Zillow</TransactionSource>
    </Event>
    <Event EventType="Appointment" EventDate="2024-02-03T10:00:00Z">
      <Agent><AgentName><FirstName>Sam</FirstName><LastName>Agent</LastName></AgentName></Agent>
      <Comments>Tour booked</Comments>
    </Event>
    <Event EventType="MysteryEvent" EventDate="2024-02-04T09:00:00.1234567-05:00">
      <FirstContact>false</FirstContact>
      <EventReasons>Prospect Lost: Price</EventReasons>
    </Event>
  </Events>
</Prospect>
<Prospect><Customers><Customer Type="lost"><Name><LastName>Solo</LastName></Name>
</Customer></Customers></Prospect>
</Prospects></LeadManagement>"""


def test_singletons_in_a_namespaced_envelope() -> None:
    envelope = parse_envelope(SINGLES)
    assert envelope.ok
    assert envelope.method_name == "SearchProspects"
    assert envelope.error_description is None
    assert envelope.account_id == 400
    assert envelope.property_id == "6a1b2c3d-0000-4000-8000-000000000001"
    assert envelope.prospects == (Prospect(customers=(ADA,), events=(SHOW,)),)
    assert envelope.prospects[0].prospect_id == "p-1"
    assert envelope.prospects[0].person_id is None


def test_many_customers_phones_identifications_and_events() -> None:
    first, second = parse_lead_management(MANY)
    bo, cy, di = first.customers
    assert first.lead is bo  # the first customer is the lead, the others follow in order
    assert (bo.first_name, cy.first_name, di.first_name) == ("Bo", "Cy", "Di")
    assert bo.customer_type is CustomerType.APPLICANT
    assert cy.customer_type is CustomerType.APPLICANT  # case-insensitive
    assert di.customer_type is CustomerType.PROSPECT  # missing Type
    assert bo.identifications == (
        Identification("ProspectID", "p-2"),
        Identification("PersonID", "per-2"),
        Identification("PersonID", "ils-77", "Zillow"),
    )
    assert (first.prospect_id, first.person_id) == ("p-2", "per-2")
    assert cy.person_id == "per-3"  # no OrganizationName: ResMan's own
    assert bo.phones == (
        Phone("+15555550102", "home"),
        Phone("+15555550103", "office"),
        Phone("+15555550104", "cell"),
    )
    assert second == Prospect(
        customers=(Customer(customer_type=CustomerType.LOST, last_name="Solo"),)
    )


def test_preferences_are_read_with_padded_numbers_and_several_pets() -> None:
    (first, _) = parse_lead_management(MANY)
    assert first.preferences == Preferences(
        target_move_in_date=date(2024, 6, 15),
        desired_rent=RentRange(min=Decimal("1200"), max=Decimal("1500.50")),
        bedrooms_exact=2,
        bedrooms_max=3,
        bathrooms_exact=Decimal("1.5"),
        floorplan="B2",
        unit_marketing_name="204",
        lease_terms=12,
        pets=(Pet("Dog", 2), Pet("Cat", 1)),
        occupants=3,
        comment="Quiet unit please",
    )


def test_events_keep_unknown_types_and_normalise_dates_to_utc() -> None:
    (first, _) = parse_lead_management(MANY)
    ils, appointment, mystery = first.events
    assert ils == Event(
        "EmailFromILS",
        datetime(2024, 2, 1, tzinfo=UTC),
        first_contact=True,
        transaction_source="Zillow",
    )
    assert appointment.event_date == datetime(2024, 2, 3, 10, tzinfo=UTC)
    assert appointment.agent_name == "Sam Agent"
    assert appointment.comments == "Tour booked"
    assert mystery.event_type == "MysteryEvent"
    assert mystery.event_date == datetime(2024, 2, 4, 14, 0, 0, 123456, tzinfo=UTC)
    assert mystery.first_contact is False
    assert mystery.event_reasons == "Prospect Lost: Price"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (" 2024-01-02T03:04:05+00:00 ", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T22:04:05-05:00", datetime(2024, 1, 3, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.5Z", datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_event_date_shapes(raw: str, expected: datetime) -> None:
    doc = f'<LeadManagement><Prospects><Prospect><Events><Event EventType="Other" EventDate="{raw}"/></Events></Prospect></Prospects></LeadManagement>'  # noqa: E501
    (prospect,) = parse_lead_management(doc)
    parsed = prospect.events[0].event_date
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-06-15", date(2024, 6, 15)),
        ("2024-06-15T23:30:00", date(2024, 6, 15)),
        ("2024-06-15T23:30:00-05:00", date(2024, 6, 15)),  # the day as written, not shifted
        ("2024-06-15T00:00:00Z", date(2024, 6, 15)),
        ("   ", None),
    ],
)
def test_target_move_in_date_shapes(raw: str, expected: date | None) -> None:
    doc = f"<LeadManagement><Prospects><Prospect><CustomerPreferences><TargetMoveInDate>{raw}</TargetMoveInDate></CustomerPreferences></Prospect></Prospects></LeadManagement>"  # noqa: E501
    (prospect,) = parse_lead_management(doc)
    assert prospect.preferences is not None
    assert prospect.preferences.target_move_in_date == expected


def test_empty_and_blank_text_reads_as_none() -> None:
    doc = b"""<LeadManagement><Prospects><Prospect><Customers><Customer Type="prospect">
      <Name><FirstName></FirstName><LastName>
      </LastName></Name><Email/><Phone PhoneType=""><PhoneNumber> </PhoneNumber></Phone>
    </Customer></Customers><CustomerPreferences><Comment/><NumberOfOccupants> </NumberOfOccupants>
    <DesiredRent Exact=""/></CustomerPreferences>
    <Events><Event EventType="Other" EventDate="2024-01-01"><FirstContact/><Comments>  </Comments>
    <Agent><AgentID IDValue=""/><AgentName/></Agent></Event></Events>
    </Prospect></Prospects></LeadManagement>"""
    (prospect,) = parse_lead_management(doc)
    assert prospect == Prospect(
        customers=(Customer(),),
        preferences=Preferences(desired_rent=RentRange()),
        events=(Event("Other", datetime(2024, 1, 1, tzinfo=UTC)),),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("True", True), ("1", True), ("FALSE", False), ("0", False)],
)
def test_first_contact_spellings(raw: str, expected: bool) -> None:
    doc = f'<LeadManagement><Prospects><Prospect><Events><Event EventType="Other" EventDate="2024-01-01"><FirstContact> {raw} </FirstContact></Event></Events></Prospect></Prospects></LeadManagement>'  # noqa: E501
    (prospect,) = parse_lead_management(doc)
    assert prospect.events[0].first_contact is expected


def test_prospect_outside_prospects_wrapper_and_empty_document() -> None:
    doc = (
        b"<LeadManagement><Prospect><Customers><Customer/></Customers></Prospect></LeadManagement>"
    )
    assert parse_lead_management(doc) == [Prospect(customers=(Customer(),))]
    assert parse_lead_management(b"<LeadManagement><Prospects/></LeadManagement>") == []


def test_parse_prospect_accepts_a_single_element() -> None:
    prospect_element = safe_parse(SINGLES)[5][0][0][0]
    assert parse_prospect(prospect_element) == Prospect(customers=(ADA,), events=(SHOW,))


def test_error_envelope_without_response() -> None:
    doc = b"""<ResMan><MethodName>PostLeadManagement4_0</MethodName><Status>Error</Status>
      <ErrorDescription>Transaction Source could not be found</ErrorDescription>
      <AccountID>400</AccountID><PropertyID/></ResMan>"""
    envelope = parse_envelope(doc)
    assert not envelope.ok
    assert envelope.error_description == "Transaction Source could not be found"
    assert envelope.property_id is None
    assert envelope.prospects == ()


def test_envelope_wrapping_lead_management_directly() -> None:
    doc = b"""<ResMan><Status>Success</Status><LeadManagement><Prospects><Prospect><Customers>
      <Customer Type="current_resident"/></Customers></Prospect></Prospects></LeadManagement>
      </ResMan>"""
    envelope = parse_envelope(doc)
    assert envelope.method_name == ""
    assert envelope.account_id is None
    assert envelope.prospects[0].lead.customer_type is CustomerType.CURRENT_RESIDENT


def _in_prospect(inner: str) -> bytes:
    doc = f"<LeadManagement><Prospects><Prospect>{inner}</Prospect></Prospects></LeadManagement>"
    return doc.encode()


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ('<Customers><Customer Type="roommate"/></Customers>', "Customer@Type.*'roommate'"),
        (
            '<Events><Event EventType="Show" EventDate="yesterday"/></Events>',
            "EventDate.*yesterday",
        ),
        ('<Events><Event EventType="Show" EventDate="2024-13-01"/></Events>', "2024-13-01"),
        ('<Events><Event EventType="Show"/></Events>', "EventDate"),
        ('<Events><Event EventDate="2024-01-01"/></Events>', "EventType"),
        (
            '<Events><Event EventType="Show" EventDate="2024-01-01"><FirstContact>yes'
            "</FirstContact></Event></Events>",
            "FirstContact.*yes",
        ),
        ('<CustomerPreferences><DesiredRent Exact="12OO"/></CustomerPreferences>', "Exact.*12OO"),
        ('<CustomerPreferences><DesiredRent Max="NaN"/></CustomerPreferences>', "DesiredRent@Max"),
        (
            '<CustomerPreferences><DesiredNumBedrooms Exact="2.5"/></CustomerPreferences>',
            "DesiredNumBedrooms@Exact.*2.5",
        ),
        ("<CustomerPreferences><Pets Count='1'/></CustomerPreferences>", "PetType"),
        ("<CustomerPreferences><Pets PetType='Dog' Count='x'/></CustomerPreferences>", "Count"),
        (
            "<CustomerPreferences><TargetMoveInDate>soon</TargetMoveInDate></CustomerPreferences>",
            "TargetMoveInDate",
        ),
    ],
    ids=[
        "customer-type",
        "date-word",
        "date-month",
        "no-date",
        "no-type",
        "bool",
        "rent",
        "nan",
        "bedrooms",
        "pet-type",
        "pet-count",
        "move-in",
    ],
)
def test_bad_values_name_the_element(inner: str, message: str) -> None:
    with pytest.raises(MalformedXMLError, match=message):
        parse_lead_management(_in_prospect(inner))


def test_errors_never_carry_personal_data() -> None:
    doc = _in_prospect(
        "<Customers><Customer><Name><FirstName>Secretname</FirstName></Name>"
        "<Email>private@example.com</Email></Customer></Customers>"
        '<Events><Event EventType="Show" EventDate="bad"/></Events>'
    )
    with pytest.raises(MalformedXMLError) as caught:
        parse_lead_management(doc)
    assert "Secretname" not in str(caught.value)
    assert "private@example.com" not in str(caught.value)


@pytest.mark.parametrize(
    ("function", "doc", "message"),
    [
        (parse_lead_management, b"<ResMan><Status>Success</Status></ResMan>", "LeadManagement"),
        (parse_envelope, b"<LeadManagement/>", "ResMan"),
        (parse_envelope, b"<html><body>Bad Gateway</body></html>", "ResMan"),
        (parse_envelope, b"<ResMan><MethodName>X</MethodName></ResMan>", "Status"),
        (
            parse_envelope,
            b"<ResMan><Status>Success</Status><AccountID>abc</AccountID></ResMan>",
            "AccountID",
        ),
        (parse_lead_management, b"<LeadManagement><Prospects>", "line 1"),
    ],
    ids=["lm-wrong-root", "env-wrong-root", "html", "no-status", "account-id", "truncated"],
)
def test_wrong_shapes_are_malformed(
    function: Callable[[bytes], object], doc: bytes, message: str
) -> None:
    with pytest.raises(MalformedXMLError, match=message):
        function(doc)
