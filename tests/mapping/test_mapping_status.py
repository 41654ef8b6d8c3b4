from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadsync.mapping.status import STATUS_PRIORITY, LeadStatus, derive_status, held_type
from leadsync.mapping.to_resman import status_events
from leadsync.resman.models import Customer, CustomerType, Event, EventType, Prospect

T0 = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)


def _prospect(kind: CustomerType, *events: tuple[EventType, int]) -> Prospect:
    return Prospect(
        customers=(Customer(customer_type=kind),),
        events=tuple(Event(t.value, T0 + timedelta(hours=h)) for t, h in events),
    )


@pytest.mark.parametrize(
    ("prospect", "expected"),
    [
        (_prospect(CustomerType.PROSPECT), LeadStatus.NEW),
        (_prospect(CustomerType.PROSPECT, (EventType.CONTACT, 0)), LeadStatus.NEW),
        (_prospect(CustomerType.PROSPECT, (EventType.TEXT_TO_PROSPECT, 1)), LeadStatus.CONTACTED),
        (
            _prospect(
                CustomerType.PROSPECT, (EventType.APPOINTMENT, 2), (EventType.CALL_TO_PROSPECT, 1)
            ),
            LeadStatus.TOUR_SCHEDULED,
        ),
        (_prospect(CustomerType.PROSPECT, (EventType.SHOW, 1)), LeadStatus.TOUR_SCHEDULED),
        (_prospect(CustomerType.APPLICANT), LeadStatus.APPLICATION),
        (_prospect(CustomerType.PROSPECT, (EventType.APPROVED, 1)), LeadStatus.APPLICATION),
        (_prospect(CustomerType.CURRENT_RESIDENT), LeadStatus.LEASED),
        (_prospect(CustomerType.PROSPECT, (EventType.LEASE_SIGN, 3)), LeadStatus.LEASED),
        (_prospect(CustomerType.LOST, (EventType.CANCEL, 1)), LeadStatus.LOST),
        (
            _prospect(
                CustomerType.PROSPECT,
                (EventType.CANCEL, 1),
                (EventType.REACTIVATE, 2),
            ),
            LeadStatus.NEW,
        ),
    ],
)
def test_derive_status_from_type_and_latest_events(
    prospect: Prospect, expected: LeadStatus
) -> None:
    assert derive_status(prospect) == expected


def test_priority_order_matches_spec() -> None:
    ordered = sorted(STATUS_PRIORITY, key=STATUS_PRIORITY.__getitem__)
    assert [s.value for s in ordered] == [
        "leased",
        "application",
        "tour_scheduled",
        "qualified",
        "contacted",
        "new",
        "lost",
    ]


def test_lost_posts_type_lost_and_cancel_with_reason() -> None:
    result = status_events(
        new_status=LeadStatus.LOST,
        previous_status=LeadStatus.CONTACTED,
        at=T0,
        transaction_source="src-1",
        lost_reason=("lr-7", "Rented elsewhere"),
    )
    assert result is not None
    kind, events = result
    assert kind == CustomerType.LOST
    assert [(e.event_type, e.transaction_source, e.event_reasons) for e in events] == [
        ("Cancel", "lr-7", "Prospect Lost: Rented elsewhere")
    ]


def test_reopening_a_lost_lead_posts_reactivate_first() -> None:
    result = status_events(
        new_status=LeadStatus.CONTACTED,
        previous_status=LeadStatus.LOST,
        at=T0,
        transaction_source="src-1",
    )
    assert result is not None
    kind, events = result
    assert kind == CustomerType.PROSPECT
    assert [e.event_type for e in events] == ["ReActivate", "TextToProspect"]


def test_resman_owned_statuses_are_not_pushed() -> None:
    for status in (LeadStatus.APPLICATION, LeadStatus.LEASED):
        assert (
            status_events(new_status=status, previous_status=None, at=T0, transaction_source="s")
            is None
        )


@pytest.mark.parametrize(
    ("prospect", "expected"),
    [
        # A late post of ours re-typed the office's applicant / resident: the office's holds.
        (
            _prospect(
                CustomerType.PROSPECT, (EventType.TEXT_TO_PROSPECT, 1), (EventType.APPLICATION, 2)
            ),
            CustomerType.APPLICANT,
        ),
        (_prospect(CustomerType.PROSPECT, (EventType.APPROVED, 1)), CustomerType.APPLICANT),
        (
            _prospect(CustomerType.PROSPECT, (EventType.LEASE_SIGN, 3)),
            CustomerType.CURRENT_RESIDENT,
        ),
        # The office moved it back since (a ReActivate, a new contact): prospect is right.
        (
            _prospect(CustomerType.PROSPECT, (EventType.APPLICATION, 1), (EventType.REACTIVATE, 2)),
            CustomerType.PROSPECT,
        ),
        (
            _prospect(
                CustomerType.PROSPECT, (EventType.APPLICATION, 1), (EventType.CALL_TO_PROSPECT, 2)
            ),
            CustomerType.PROSPECT,
        ),
        # Every other type is ResMan's own, whatever the events say.
        (_prospect(CustomerType.PROSPECT, (EventType.SHOW, 1)), CustomerType.PROSPECT),
        (_prospect(CustomerType.PROSPECT), CustomerType.PROSPECT),
        (_prospect(CustomerType.APPLICANT, (EventType.LEASE_SIGN, 1)), CustomerType.APPLICANT),
        (_prospect(CustomerType.LOST, (EventType.APPLICATION, 1)), CustomerType.LOST),
    ],
)
def test_held_type_restores_only_what_the_office_alone_gives(
    prospect: Prospect, expected: CustomerType
) -> None:
    assert held_type(prospect) == expected


def test_held_type_leaves_our_own_events_out() -> None:
    """Event dates have whole seconds: a late post of ours may tie with the office's
    application and sort after it; our own events never lower an office-only type."""
    ours = Event(EventType.TEXT_TO_PROSPECT.value, T0, transaction_source="chatbot-src")
    office = Event(EventType.APPLICATION.value, T0)
    late = Prospect(
        customers=(Customer(customer_type=CustomerType.PROSPECT),), events=(office, ours)
    )
    assert held_type(late, own_source="chatbot-src") == CustomerType.APPLICANT
    assert derive_status(late) == LeadStatus.CONTACTED  # what a plain read would say
    # Without our source every event counts.
    assert held_type(late) == CustomerType.PROSPECT
