from __future__ import annotations

import json
import string
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.mapping.from_resman import (
    notes_from_events,
    office_activity,
    pending_tour,
    prospect_fields,
    resman_context,
    status_context,
    user_profile,
)
from leadsync.mapping.lead import LeadFields, PetInfo
from leadsync.mapping.normalize import (
    is_junk_email,
    is_junk_name,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from leadsync.mapping.status import LeadStatus
from leadsync.mapping.to_resman import ProspectIds, lead_to_prospect
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Event,
    EventType,
    Identification,
    Pet,
    Phone,
    Preferences,
    Prospect,
    RentRange,
)

T0 = datetime(2026, 10, 20, 15, 0, tzinfo=UTC)
CHICAGO = "America/Chicago"
OUR_SOURCE = "17"
MARIA = Customer(
    customer_type=CustomerType.PROSPECT,
    identifications=(Identification("ProspectID", "P-1"), Identification("PersonID", "H-1")),
    first_name="  Maria ",
    last_name="Gomez",
    phones=(Phone("(512) 555-0199", "cell"),),
    email=" Maria.Gomez@GMAIL.com",
)


def _event(
    kind: EventType,
    hours: float,
    *,
    comments: str | None = None,
    agent_name: str | None = None,
    transaction_source: str | None = None,
    event_reasons: str | None = None,
) -> Event:
    return Event(
        kind.value,
        T0 + timedelta(hours=hours),
        agent_name=agent_name,
        transaction_source=transaction_source,
        comments=comments,
        event_reasons=event_reasons,
    )


def _prospect(
    *events: Event, kind: CustomerType = CustomerType.PROSPECT, prefs: Preferences | None = None
) -> Prospect:
    return Prospect(
        customers=(replace(MARIA, customer_type=kind),), preferences=prefs, events=events
    )


# --- fields ------------------------------------------------------------------------------------
def test_fields_of_the_lead_customer() -> None:
    prefs = Preferences(
        target_move_in_date=date(2027, 1, 15),
        desired_rent=RentRange(min=Decimal(1200), max=Decimal(1600)),
        bedrooms_exact=2,
        pets=(Pet("dog", 1), Pet("cat", 2)),
        occupants=3,
    )
    fields = prospect_fields(_prospect(_event(EventType.CALL_TO_PROSPECT, 1), prefs=prefs))
    assert fields == LeadFields(
        first_name="Maria",
        last_name="Gomez",
        email="maria.gomez@gmail.com",
        phone="+15125550199",
        move_in_date=date(2027, 1, 15),
        budget_min=Decimal(1200),
        budget_max=Decimal(1600),
        bedrooms=2,
        occupants=3,
        pets=(PetInfo("dog", 1), PetInfo("cat", 2)),
        status="contacted",
    )


def test_an_exact_rent_is_both_ends_and_max_bedrooms_stand_in() -> None:
    prefs = Preferences(desired_rent=RentRange(exact=Decimal(1450)), bedrooms_max=3)
    fields = prospect_fields(_prospect(prefs=prefs))
    assert (fields.budget_min, fields.budget_max, fields.bedrooms) == (
        Decimal(1450),
        Decimal(1450),
        3,
    )


def test_missing_preferences_leave_the_fields_empty() -> None:
    fields = prospect_fields(_prospect())
    assert fields == LeadFields(
        first_name="Maria",
        last_name="Gomez",
        email="maria.gomez@gmail.com",
        phone="+15125550199",
    )


def test_roommates_do_not_count_the_first_customer_is_the_lead() -> None:
    roommate = Customer(first_name="Ann", last_name="Li", email="ann@yahoo.com")
    prospect = Prospect(customers=(MARIA, roommate))
    fields = prospect_fields(prospect)
    assert (fields.first_name, fields.email) == ("Maria", "maria.gomez@gmail.com")
    assert user_profile(prospect)["first_name"] == "Maria"


def test_a_prospect_without_customers_is_rejected() -> None:
    with pytest.raises(ValueError, match="no customer"):
        prospect_fields(Prospect())


def test_junk_contacts_are_not_imported_and_the_first_usable_phone_is_taken() -> None:
    junk = replace(
        MARIA,
        first_name="Anonymous",
        email="none@none.com",
        phones=(Phone("000-000-0000"), Phone("555"), Phone("312.555.0100", "home")),
    )
    fields = prospect_fields(Prospect(customers=(junk,)))
    assert (fields.first_name, fields.email, fields.phone) == (None, None, "+13125550100")
    no_phone = prospect_fields(Prospect(customers=(replace(MARIA, phones=(Phone("0"),)),)))
    assert no_phone.phone is None


def test_user_profile() -> None:
    assert user_profile(_prospect()) == {
        "first_name": "Maria",
        "last_name": "Gomez",
        "email": "maria.gomez@gmail.com",
        "phone": "+15125550199",
        "lead_source": "resman",
    }


# --- status --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "events", "status", "stage", "priority"),
    [
        (CustomerType.PROSPECT, (), "new", "initial_contact", "high"),
        (
            CustomerType.PROSPECT,
            ((EventType.EMAIL_TO_PROSPECT, 1),),
            "contacted",
            "contacted",
            "high",
        ),
        (
            CustomerType.PROSPECT,
            ((EventType.CALL_FROM_PROSPECT, 1), (EventType.APPOINTMENT, 30)),
            "tour_scheduled",
            "tour_scheduled",
            "medium",
        ),
        (
            CustomerType.APPLICANT,
            ((EventType.APPLICATION, 1),),
            "application",
            "application",
            "low",
        ),
        (CustomerType.CURRENT_RESIDENT, ((EventType.LEASE_SIGN, 1),), "leased", "leased", "low"),
        (CustomerType.LOST, ((EventType.CANCEL, 1),), "lost", "lost", "low"),
        # Reactivated by type alone after a Cancel: new again.
        (CustomerType.PROSPECT, ((EventType.CANCEL, 1),), "new", "initial_contact", "high"),
    ],
)
def test_each_status_path_reaches_the_context(
    kind: CustomerType,
    events: tuple[tuple[EventType, int], ...],
    status: str,
    stage: str,
    priority: str,
) -> None:
    prospect = _prospect(*(_event(t, h) for t, h in events), kind=kind)
    context = resman_context(prospect, timezone=CHICAGO)
    assert (context["resman_status"], context["stage"], context["priority"]) == (
        status,
        stage,
        priority,
    )
    assert context["customer_type"] == kind.value
    assert prospect_fields(prospect).status == status


def test_status_context_covers_every_status_as_the_spec_lists() -> None:
    table = {s.value: status_context(s) for s in LeadStatus}
    assert table == {
        "new": {"stage": "initial_contact", "priority": "high"},
        "contacted": {"stage": "contacted", "priority": "high"},
        "qualified": {"stage": "qualified", "priority": "medium"},
        "tour_scheduled": {"stage": "tour_scheduled", "priority": "medium"},
        "application": {"stage": "application", "priority": "low"},
        "leased": {"stage": "leased", "priority": "low"},
        "lost": {"stage": "lost", "priority": "low"},
    }


# --- tours and time zones ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("utc", "local"),
    [
        # Central Daylight Time, UTC-5.
        (datetime(2027, 6, 1, 15, 0, tzinfo=UTC), "2027-06-01T10:00:00-05:00"),
        # Central Standard Time, UTC-6.
        (datetime(2027, 1, 15, 16, 0, tzinfo=UTC), "2027-01-15T10:00:00-06:00"),
        # 1 November 2026: the wall clock shows 01:30 twice, an hour apart.
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "2026-11-01T01:30:00-05:00"),
        (datetime(2026, 11, 1, 7, 30, tzinfo=UTC), "2026-11-01T01:30:00-06:00"),
        # 8 March 2026: 02:00-03:00 does not exist locally.
        (datetime(2026, 3, 8, 7, 59, tzinfo=UTC), "2026-03-08T01:59:00-06:00"),
        (datetime(2026, 3, 8, 8, 0, tzinfo=UTC), "2026-03-08T03:00:00-05:00"),
    ],
)
def test_tour_time_in_the_property_time_zone(utc: datetime, local: str) -> None:
    prospect = _prospect(Event(EventType.APPOINTMENT.value, utc, agent_name="Dana Reyes"))
    context = resman_context(prospect, timezone=CHICAGO)
    assert context["tour_time"] == local
    assert context["next_follow_up"] == local
    assert context["tour_time_utc"] == utc.isoformat()
    assert datetime.fromisoformat(local) == utc


def test_a_naive_appointment_time_is_utc() -> None:
    naive = datetime(2027, 1, 15, 16, 0)  # what a sloppy parser could hand in
    context = resman_context(_prospect(Event(EventType.APPOINTMENT.value, naive)), timezone=CHICAGO)
    assert context["tour_time"] == "2027-01-15T10:00:00-06:00"


def test_only_the_latest_appointment_counts_and_a_show_ends_it() -> None:
    first, second = _event(EventType.APPOINTMENT, 24), _event(EventType.APPOINTMENT, 48)
    assert pending_tour([second, first]) == second.event_date
    assert pending_tour([first, _event(EventType.SHOW, 25)]) is None
    assert pending_tour([first, _event(EventType.SHOW, 24)]) is None
    assert pending_tour([second, _event(EventType.SHOW, 25)]) == second.event_date
    assert pending_tour([_event(EventType.SHOW, 1)]) is None


def test_a_lost_lead_has_no_tour_and_names_its_reason() -> None:
    prospect = _prospect(
        _event(EventType.APPOINTMENT, 48),
        _event(EventType.CANCEL, 1, event_reasons="Prospect Lost: Too expensive"),
        _event(EventType.CANCEL, 2, event_reasons="Prospect Lost: Rented elsewhere"),
        kind=CustomerType.LOST,
    )
    context = resman_context(prospect, timezone=CHICAGO)
    assert (context["tour_time"], context["tour_time_utc"], context["next_follow_up"]) == (
        None,
        None,
        None,
    )
    assert context["lost_reason"] == "Rented elsewhere"
    reopened = replace(prospect, customers=(MARIA,))
    assert resman_context(reopened, timezone=CHICAGO)["lost_reason"] is None


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        resman_context(_prospect(), timezone="America/Nowhere")


# --- notes and the rest of the context -----------------------------------------------------
def test_notes_newest_first_limited_and_ours_skipped() -> None:
    events = [
        _event(EventType.CONTACT, 0, comments="DomIQ chatbot lead", transaction_source=OUR_SOURCE),
        *(_event(EventType.PHONE, h, comments=f"call {h}", agent_name="Dana") for h in range(1, 8)),
        _event(EventType.EMAIL, 9, comments="   "),
        _event(EventType.OTHER, 10),
        _event(EventType.TEXT_TO_PROSPECT, 11, comments="ours", transaction_source=OUR_SOURCE),
    ]
    notes = notes_from_events(events, own_source=OUR_SOURCE)
    assert [n["note"] for n in notes] == ["call 7", "call 6", "call 5", "call 4", "call 3"]
    assert notes[0] == {
        "note": "call 7",
        "event_type": "Phone",
        "date": "2026-10-20T22:00:00+00:00",
        "agent_name": "Dana",
    }
    assert [n["note"] for n in notes_from_events(events, limit=2)] == ["ours", "call 7"]
    everything = notes_from_events(events, limit=100)
    assert everything[-1]["note"] == "DomIQ chatbot lead"
    assert notes_from_events(events, limit=0) == []


def test_office_activity_is_notes_a_tour_or_a_lost_reason_never_our_own_events() -> None:
    ours = _event(
        EventType.CONTACT, 0, comments="DomIQ chatbot lead", transaction_source=OUR_SOURCE
    )
    assert not office_activity(
        resman_context(_prospect(ours), timezone=CHICAGO, own_source=OUR_SOURCE)
    )
    lost = _event(EventType.CANCEL, 2, event_reasons="Prospect Lost: Rented elsewhere")
    for office in (
        _prospect(ours, _event(EventType.PHONE, 1, comments="called back", agent_name="Dana")),
        _prospect(ours, _event(EventType.APPOINTMENT, 30)),
        _prospect(ours, lost, kind=CustomerType.LOST),
    ):
        context = resman_context(office, timezone=CHICAGO, own_source=OUR_SOURCE)
        assert office_activity(context), office.events


def test_the_full_context_is_json_safe() -> None:
    prefs = Preferences(
        floorplan="B2", unit_marketing_name="204", bathrooms_exact=Decimal("1.5"), lease_terms=12
    )
    prospect = Prospect(
        customers=(MARIA,),
        preferences=prefs,
        events=(
            _event(EventType.CONTACT, 0, transaction_source=OUR_SOURCE, comments="from chat"),
            _event(EventType.CALL_TO_PROSPECT, 2, agent_name="Dana Reyes", comments="left VM"),
            _event(EventType.APPOINTMENT, 50, transaction_source=OUR_SOURCE),
        ),
    )
    context = resman_context(prospect, timezone=CHICAGO, own_source=OUR_SOURCE)
    assert json.loads(json.dumps(context)) == context
    assert context["agent_name"] == "Dana Reyes"
    assert [n["note"] for n in context["recent_notes"]] == ["left VM"]
    assert context["custom_fields"] == {
        "floorplan": "B2",
        "unit": "204",
        "lease_terms": 12,
        "bathrooms": "1.5",
    }
    assert (context["resman_prospect_id"], context["resman_person_id"]) == ("P-1", "H-1")
    assert context["tour_time"] == "2026-10-22T12:00:00-05:00"


# --- round trip ------------------------------------------------------------------------------
names = (
    st.text(string.ascii_letters + " -'", min_size=1, max_size=20)
    .map(normalize_name)
    .filter(lambda n: not is_junk_name(n))
)
emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12),
    st.sampled_from(["gmail.com", "utexas.edu", "maple-court.co.uk"]),
).filter(lambda e: normalize_email(e) == e and not is_junk_email(e))
phones = st.builds(
    lambda area, number: f"+1{area}{number:07d}",
    st.sampled_from(["512", "312", "212", "415", "737"]),
    st.integers(2_000_000, 9_999_999),
).filter(lambda p: normalize_phone(p) == p)
money = st.decimals(min_value=0, max_value=20_000, places=2, allow_nan=False, allow_infinity=False)
lead_fields = st.builds(
    LeadFields,
    first_name=st.none() | names,
    last_name=st.none() | names,
    email=st.none() | emails,
    phone=st.none() | phones,
    move_in_date=st.none() | st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    budget_min=st.none() | money,
    budget_max=st.none() | money,
    bedrooms=st.none() | st.integers(0, 6),
    occupants=st.none() | st.integers(1, 8),
    pets=st.lists(
        st.builds(PetInfo, st.sampled_from(["dog", "cat", "bird"]), st.integers(1, 3)),
        max_size=3,
    ).map(tuple),
    status=st.sampled_from([s.value for s in LeadStatus]),
)


@given(fields=lead_fields, with_ids=st.booleans())
def test_round_trip_through_a_prospect_keeps_every_field(
    fields: LeadFields, with_ids: bool
) -> None:
    ids = ProspectIds("P-9", "H-9") if with_ids else None
    back = prospect_fields(lead_to_prospect(fields, ids=ids))
    # A prospect without events is "new" whatever we hold: status travels as events.
    assert back == replace(fields, status="new")
