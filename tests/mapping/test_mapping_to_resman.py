from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.mapping.lead import LeadFields, LeadNarrative, PetInfo
from leadsync.mapping.to_resman import (
    MAX_COMMENT_CHARS,
    ProspectIds,
    first_contact_event,
    lead_to_prospect,
    map_lead_score,
    narrative_comments,
    parse_bedrooms,
    tour_event,
)

FIELDS = LeadFields(
    first_name="Maria",
    last_name="Gomez",
    email="maria.gomez@gmail.com",
    phone="+15125550199",
    move_in_date=date(2027, 1, 15),
    budget_min=Decimal(1200),
    budget_max=Decimal(1600),
    bedrooms=2,
    occupants=2,
    pets=(PetInfo("dog", 1),),
)


def test_create_maps_every_field() -> None:
    prospect = lead_to_prospect(FIELDS)
    lead = prospect.lead
    assert (lead.first_name, lead.last_name, lead.email) == ("Maria", "Gomez", FIELDS.email)
    assert [p.number for p in lead.phones] == ["+15125550199"]
    assert lead.identifications == ()
    prefs = prospect.preferences
    assert prefs is not None
    assert prefs.target_move_in_date == date(2027, 1, 15)
    assert prefs.desired_rent is not None
    assert (prefs.desired_rent.min, prefs.desired_rent.max) == (Decimal(1200), Decimal(1600))
    assert prefs.bedrooms_exact == 2
    assert prefs.occupants == 2
    assert [(p.pet_type, p.count) for p in prefs.pets] == [("dog", 1)]


def test_update_carries_both_ids() -> None:
    prospect = lead_to_prospect(FIELDS, ids=ProspectIds("P-1", "H-1"))
    assert (prospect.prospect_id, prospect.person_id) == ("P-1", "H-1")


@pytest.mark.parametrize(
    ("email", "phone", "first"),
    [("none@none.com", "000-000-0000", "Anonymous"), ("", "", "  "), (None, None, None)],
)
def test_overwrite_guard_omits_junk(
    email: str | None, phone: str | None, first: str | None
) -> None:
    fields = LeadFields(first_name=first, last_name="Gomez", email=email, phone=phone)
    lead = lead_to_prospect(fields, ids=ProspectIds("P-1")).lead
    assert lead.email is None
    assert lead.phones == ()
    assert lead.first_name is None
    assert lead.last_name == "Gomez"


@given(score=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_lead_score_is_clamped(score: float) -> None:
    mapped = map_lead_score(score)
    assert mapped is not None
    assert 0 <= mapped <= 100


@pytest.mark.parametrize(
    ("text", "expected"),
    [("studio", 0), ("2br", 2), ("2 bed", 2), ("Two bedrooms", 2), ("3", 3), ("big", None)],
)
def test_parse_bedrooms(text: str, expected: int | None) -> None:
    assert parse_bedrooms(text) == expected


def test_first_contact_event_carries_source_and_narrative() -> None:
    narrative = LeadNarrative(
        initial_message="Do you have 2 bedrooms?", transcript_summary="Wants 2br", lead_score=87
    )
    event = first_contact_event(
        at=datetime(2026, 11, 25, 9, 0, tzinfo=timezone(timedelta(hours=-6))),
        transaction_source="chatbot-id",
        narrative=narrative,
    )
    assert event.first_contact
    assert event.transaction_source == "chatbot-id"
    assert event.event_date == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert event.comments is not None
    assert "Do you have 2 bedrooms?" in event.comments
    assert "87/100" in event.comments
    assert "Wants 2br" in event.comments


def test_long_narrative_is_cut() -> None:
    text = narrative_comments(LeadNarrative(transcript_summary="x" * 5000))
    assert text is not None
    assert len(text) == MAX_COMMENT_CHARS


def test_tour_is_an_appointment_in_utc() -> None:
    start = datetime(2026, 12, 3, 14, 30, tzinfo=timezone(timedelta(hours=-5)))
    event = tour_event(start=start, transaction_source="s", tour_type="virtual", unit="B12")
    assert event.event_type == "Appointment"
    assert event.event_date == datetime(2026, 12, 3, 19, 30, tzinfo=UTC)
    assert event.comments is not None
    assert "virtual" in event.comments
    assert "B12" in event.comments


@given(
    st.builds(
        LeadFields,
        first_name=st.none() | st.text(min_size=1, max_size=20),
        email=st.none() | st.emails(),
        move_in_date=st.none() | st.dates(),
        budget_min=st.none() | st.decimals(min_value=0, max_value=10**6, places=2),
        bedrooms=st.none() | st.integers(0, 6),
        pets=st.lists(st.builds(PetInfo, st.sampled_from(["dog", "cat"]), st.integers(1, 3))).map(
            tuple
        ),
    )
)
def test_snapshot_json_round_trip(fields: LeadFields) -> None:
    import json

    from leadsync.mapping.lead import fields_from_json, fields_to_json

    assert fields_from_json(json.loads(json.dumps(fields_to_json(fields)))) == fields
