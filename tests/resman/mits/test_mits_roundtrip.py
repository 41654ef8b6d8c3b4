"""Property: whatever the model can hold, build then parse gives it back unchanged.

The strategies describe the model's canonical space: text is XML-legal (no control characters,
surrogates or U+FFFE/U+FFFF), stripped and non-empty (blank text reads back as None);
timestamps are aware UTC with whole seconds (the wire has no sub-seconds); decimals are finite.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.resman.mits import (
    build_envelope,
    build_lead_management,
    parse_envelope,
    parse_lead_management,
)
from leadsync.resman.models import (
    RESMAN_ORG,
    Customer,
    CustomerType,
    Envelope,
    Event,
    EventType,
    Identification,
    Pet,
    Phone,
    Preferences,
    Prospect,
    RentRange,
)

ROUNDTRIP = settings(max_examples=200, deadline=None)

text = (
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"),
        min_size=1,
        max_size=24,
    )
    .map(str.strip)
    .filter(bool)
)
maybe_text = st.none() | text
small_int = st.integers(min_value=0, max_value=10_000)
maybe_int = st.none() | small_int
money = st.decimals(min_value=0, max_value=1_000_000, places=2, allow_nan=False)
maybe_money = st.none() | money
timestamps = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.just(UTC),
).map(lambda value: value.replace(microsecond=0))

identifications = st.builds(
    Identification,
    id_type=st.sampled_from(["ProspectID", "PersonID"]) | text,
    id_value=text,
    organization_name=st.just(RESMAN_ORG) | text,
)
customers = st.builds(
    Customer,
    customer_type=st.sampled_from(CustomerType),
    identifications=st.lists(identifications, max_size=3).map(tuple),
    first_name=maybe_text,
    last_name=maybe_text,
    phones=st.lists(st.builds(Phone, number=text, phone_type=text), max_size=3).map(tuple),
    email=maybe_text,
)
preferences = st.builds(
    Preferences,
    target_move_in_date=st.none() | st.dates(min_value=date(1900, 1, 1)),
    desired_rent=st.none()
    | st.builds(RentRange, exact=maybe_money, min=maybe_money, max=maybe_money),
    bedrooms_exact=maybe_int,
    bedrooms_max=maybe_int,
    bathrooms_exact=st.none() | st.decimals(min_value=0, max_value=20, places=1),
    floorplan=maybe_text,
    unit_marketing_name=maybe_text,
    lease_terms=maybe_int,
    pets=st.lists(st.builds(Pet, pet_type=text, count=small_int), max_size=3).map(tuple),
    occupants=maybe_int,
    comment=maybe_text,
)
events = st.builds(
    Event,
    event_type=st.sampled_from([t.value for t in EventType]) | text,
    event_date=timestamps,
    agent_id=maybe_text,
    agent_name=maybe_text,
    first_contact=st.booleans(),
    transaction_source=maybe_text,
    comments=maybe_text,
    event_reasons=maybe_text,
)
prospects = st.builds(
    Prospect,
    customers=st.lists(customers, max_size=3).map(tuple),
    preferences=st.none() | preferences,
    events=st.lists(events, max_size=3).map(tuple),
)
envelopes = st.builds(
    Envelope,
    method_name=st.just("") | text,
    status=st.sampled_from(["Success", "Error", "Failed"]) | text,
    error_description=maybe_text,
    account_id=st.none() | st.integers(min_value=-(2**63), max_value=2**63),
    property_id=maybe_text,
    prospects=st.lists(prospects, max_size=3).map(tuple),
)


@ROUNDTRIP
@given(st.lists(prospects, max_size=4))
def test_lead_management_round_trip(items: list[Prospect]) -> None:
    assert parse_lead_management(build_lead_management(items)) == items


@ROUNDTRIP
@given(envelopes)
def test_envelope_round_trip(envelope: Envelope) -> None:
    assert parse_envelope(build_envelope(envelope)) == envelope


@ROUNDTRIP
@given(envelopes)
def test_envelope_without_prospects_round_trip(envelope: Envelope) -> None:
    parsed = parse_envelope(build_envelope(envelope, include_prospects=False))
    assert parsed == Envelope(
        method_name=envelope.method_name,
        status=envelope.status,
        error_description=envelope.error_description,
        account_id=envelope.account_id,
        property_id=envelope.property_id,
    )


@ROUNDTRIP
@given(st.lists(prospects, max_size=2))
def test_text_input_round_trip(items: list[Prospect]) -> None:
    """A document handed over as str (declaration included) parses the same as its bytes."""
    assert parse_lead_management(build_lead_management(items).decode("utf-8")) == items
