"""ResMan's status as the merge sees it: a quiet read keeps ours, a real office change wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.mapping.observed import (
    RESMAN_STATUS_KEY,
    after_post,
    observed_status,
    remember_signature,
    status_signature,
)
from leadsync.mapping.status import LeadStatus, derive_status
from leadsync.mapping.to_resman import status_events
from leadsync.merge import MergeRules, merge
from leadsync.resman.models import Customer, CustomerType, Event, EventType, Prospect

T0 = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
OFFICE_ACTIVITY = [
    EventType.TEXT_TO_PROSPECT,
    EventType.CALL_FROM_PROSPECT,
    EventType.EMAIL_FROM_PROSPECT,
    EventType.OTHER,
    EventType.CONTACT,
    EventType.APPOINTMENT,
    EventType.SHOW,
    EventType.WALK_IN,
]


def _prospect(kind: CustomerType, *events: tuple[EventType, int]) -> Prospect:
    return Prospect(
        customers=(Customer(customer_type=kind),),
        events=tuple(Event(t.value, T0 + timedelta(hours=h)) for t, h in events),
    )


def _push(current: Prospect, *, new: LeadStatus, previous: LeadStatus, hour: int) -> Prospect:
    """ResMan's record after we post ``new`` the way the push does."""
    mapped = status_events(
        new_status=new,
        previous_status=previous,
        at=T0 + timedelta(hours=hour),
        transaction_source="chatbot",
        lost_reason=("lr-1", "Other"),
    )
    kind, events = mapped if mapped is not None else (current.lead.customer_type, [])
    return after_post(current, customer_type=kind, events=events)


def _agreed(status: LeadStatus, prospect: Prospect) -> dict[str, Any]:
    return {"status": status.value, RESMAN_STATUS_KEY: status_signature(prospect)}


def test_qualified_survives_a_quiet_read() -> None:
    before = _prospect(CustomerType.PROSPECT, (EventType.CONTACT, 0), (EventType.PHONE, 1))
    after = _push(before, new=LeadStatus.QUALIFIED, previous=LeadStatus.CONTACTED, hour=2)
    assert derive_status(after) == LeadStatus.CONTACTED  # what ResMan can say
    assert observed_status(after, _agreed(LeadStatus.QUALIFIED, after)) == "qualified"


def test_without_a_remembered_signature_the_derived_status_stands() -> None:
    prospect = _prospect(CustomerType.PROSPECT, (EventType.PHONE, 1))
    assert observed_status(prospect, {"status": "qualified"}) == "contacted"
    assert observed_status(prospect, None) == "contacted"


def test_a_second_appointment_is_news_although_resman_derived_a_tour_already() -> None:
    toured = _prospect(CustomerType.PROSPECT, (EventType.APPOINTMENT, 50))
    ours = _push(toured, new=LeadStatus.QUALIFIED, previous=LeadStatus.TOUR_SCHEDULED, hour=3)
    base = _agreed(LeadStatus.QUALIFIED, ours)
    assert observed_status(ours, base) == "qualified"
    again = after_post(
        ours,
        customer_type=CustomerType.PROSPECT,
        events=[Event(EventType.APPOINTMENT.value, T0 + timedelta(hours=80))],
    )
    assert observed_status(again, base) == "tour_scheduled"


@pytest.mark.parametrize(
    ("agreed", "seen"),
    [
        ("qualified", "qualified"),
        ("tour_scheduled", "tour_scheduled"),
        ("application", "application"),
        ("leased", "leased"),
        # A new lead that the office called is contacted, as before.
        ("new", "contacted"),
    ],
)
def test_contact_activity_never_turns_a_further_status_back_into_contacted(
    agreed: str, seen: str
) -> None:
    prospect = _prospect(CustomerType.PROSPECT, (EventType.CONTACT, 0))
    base = {"status": agreed, RESMAN_STATUS_KEY: status_signature(prospect)}
    called = after_post(
        prospect,
        customer_type=CustomerType.PROSPECT,
        events=[Event(EventType.CALL_TO_PROSPECT.value, T0 + timedelta(hours=5))],
    )
    assert observed_status(called, base) == seen


def test_an_open_status_conflict_keeps_the_old_signature() -> None:
    old = {"status": "new", RESMAN_STATUS_KEY: "new:0"}
    kept = remember_signature({"status": "new"}, signature="lost:1", settled=False, old_base=old)
    assert kept[RESMAN_STATUS_KEY] == "new:0"
    moved = remember_signature({"status": "lost"}, signature="lost:1", settled=True, old_base=old)
    assert moved[RESMAN_STATUS_KEY] == "lost:1"
    assert RESMAN_STATUS_KEY not in remember_signature(
        {"status": "new"}, signature="lost:1", settled=False, old_base=None
    )


statuses = st.sampled_from(list(LeadStatus))
office_changes = st.sampled_from(
    [
        (CustomerType.APPLICANT, EventType.APPLICATION, LeadStatus.APPLICATION),
        (CustomerType.LOST, EventType.CANCEL, LeadStatus.LOST),
        (CustomerType.CURRENT_RESIDENT, EventType.LEASE_SIGN, LeadStatus.LEASED),
        (CustomerType.PROSPECT, EventType.APPOINTMENT, LeadStatus.TOUR_SCHEDULED),
    ]
)
histories = st.lists(
    st.tuples(st.sampled_from(OFFICE_ACTIVITY), st.integers(min_value=0, max_value=20)),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(history=histories, path=st.lists(statuses, min_size=1, max_size=6))
def test_every_status_we_set_survives_a_quiet_read(
    history: list[tuple[EventType, int]], path: list[LeadStatus]
) -> None:
    record = _prospect(CustomerType.PROSPECT, *history)
    agreed = derive_status(record)
    rules = MergeRules()
    for hour, new in enumerate(path, start=30):
        record = _push(record, new=new, previous=agreed, hour=hour)
        agreed = new
        base = _agreed(agreed, record)
        # The next poll: the office only wrote a note (an Other event), nothing on status.
        noted = after_post(
            record,
            customer_type=record.lead.customer_type,
            events=[Event(EventType.OTHER.value, T0 + timedelta(hours=hour, minutes=30))],
        )
        seen = observed_status(noted, base)
        assert seen == agreed.value
        result = merge(
            base=base,
            domiq={"status": agreed.value},
            resman={"status": seen},
            rules=rules,
            fields=["status"],
        )
        assert not result.changed


@settings(max_examples=300, deadline=None)
@given(history=histories, ours=statuses, change=office_changes)
def test_a_real_office_change_wins_over_any_status_of_ours(
    history: list[tuple[EventType, int]],
    ours: LeadStatus,
    change: tuple[CustomerType, EventType, LeadStatus],
) -> None:
    record = _prospect(CustomerType.PROSPECT, *history)
    record = _push(record, new=ours, previous=derive_status(record), hour=30)
    base = _agreed(ours, record)
    kind, event_type, expected = change
    # Dated after everything else: the office's newest action.
    office = after_post(
        record,
        customer_type=kind,
        events=[Event(event_type.value, T0 + timedelta(hours=100))],
    )
    assert observed_status(office, base) == expected.value
