"""Our seven lead statuses and how they map to ResMan's types and events (both ways).

ResMan has no "contacted", "qualified" or "tour scheduled" states: they are events. The
mapping is data (:class:`StatusRule`) so an integration can override it without code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from leadsync.resman.models import CustomerType, Event, EventType, Prospect


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    TOUR_SCHEDULED = "tour_scheduled"
    APPLICATION = "application"
    LEASED = "leased"
    LOST = "lost"


#: Spec's conflict priority: a lower number wins a status conflict.
STATUS_PRIORITY: Mapping[LeadStatus, int] = {
    LeadStatus.LEASED: 1,
    LeadStatus.APPLICATION: 2,
    LeadStatus.TOUR_SCHEDULED: 3,
    LeadStatus.QUALIFIED: 4,
    LeadStatus.CONTACTED: 5,
    LeadStatus.NEW: 6,
    LeadStatus.LOST: 7,
}


@dataclass(frozen=True, slots=True)
class StatusRule:
    """How one of our statuses is written to ResMan."""

    customer_type: CustomerType
    #: Event posted with the change; None posts the type alone.
    event_type: EventType | None
    #: False when ResMan owns the status (applications, leases are made in the office).
    pushable: bool = True


DEFAULT_STATUS_RULES: Mapping[LeadStatus, StatusRule] = {
    LeadStatus.NEW: StatusRule(CustomerType.PROSPECT, EventType.CONTACT),
    LeadStatus.CONTACTED: StatusRule(CustomerType.PROSPECT, EventType.TEXT_TO_PROSPECT),
    LeadStatus.QUALIFIED: StatusRule(CustomerType.PROSPECT, EventType.OTHER),
    LeadStatus.TOUR_SCHEDULED: StatusRule(CustomerType.PROSPECT, EventType.APPOINTMENT),
    LeadStatus.APPLICATION: StatusRule(
        CustomerType.APPLICANT, EventType.APPLICATION, pushable=False
    ),
    LeadStatus.LEASED: StatusRule(CustomerType.CURRENT_RESIDENT, None, pushable=False),
    LeadStatus.LOST: StatusRule(CustomerType.LOST, EventType.CANCEL),
}

_CONTACT_EVENTS = frozenset(
    {
        EventType.TEXT_TO_PROSPECT,
        EventType.EMAIL_TO_PROSPECT,
        EventType.CALL_TO_PROSPECT,
        EventType.TEXT_FROM_PROSPECT,
        EventType.EMAIL_FROM_PROSPECT,
        EventType.CALL_FROM_PROSPECT,
        EventType.EMAIL,
        EventType.PHONE,
    }
)
_TOUR_EVENTS = frozenset({EventType.APPOINTMENT, EventType.SHOW})
_APPLICATION_EVENTS = frozenset({EventType.APPLICATION, EventType.APPROVED})


def event_signal(event: Event) -> LeadStatus | None:
    """The status one event implies, None for events that imply none (notes, Contact)."""
    kind = event.event_type
    if kind == EventType.LEASE_SIGN:
        return LeadStatus.LEASED
    if kind in _APPLICATION_EVENTS:
        return LeadStatus.APPLICATION
    if kind == EventType.CANCEL:
        return LeadStatus.LOST
    if kind == EventType.REACTIVATE:
        return LeadStatus.NEW
    if kind in _TOUR_EVENTS:
        return LeadStatus.TOUR_SCHEDULED
    if kind in _CONTACT_EVENTS:
        return LeadStatus.CONTACTED
    return None


def _latest_signal(events: Iterable[Event]) -> LeadStatus | None:
    """The status the newest meaningful event implies (ties keep document order)."""
    signal: LeadStatus | None = None
    for event in sorted(events, key=lambda e: e.event_date):
        signal = event_signal(event) or signal
    return signal


def derive_status(prospect: Prospect) -> LeadStatus:
    """Our status for a ResMan prospect: Customer@Type first, then the latest events."""
    kind = prospect.lead.customer_type
    if kind == CustomerType.CURRENT_RESIDENT:
        return LeadStatus.LEASED
    if kind == CustomerType.APPLICANT:
        return LeadStatus.APPLICATION
    if kind == CustomerType.LOST:
        return LeadStatus.LOST
    signal = _latest_signal(prospect.events)
    # A prospect-typed record whose last signal was a Cancel was reactivated by type alone.
    if signal in (None, LeadStatus.LOST):
        return LeadStatus.NEW
    return signal


#: Types only the office gives (applications and leases are made in the office; we never
#: post them, see ``pushable``), by the status their events imply.
_OFFICE_ONLY_TYPES: Mapping[LeadStatus, CustomerType] = {
    LeadStatus.APPLICATION: CustomerType.APPLICANT,
    LeadStatus.LEASED: CustomerType.CURRENT_RESIDENT,
}


def held_type(prospect: Prospect, *, own_source: str | None = None) -> CustomerType:
    """The Customer@Type ResMan's record should hold: its own, except a plain "prospect"
    whose newest status event not posted by us (``own_source``: our TransactionSource) is an
    application or a lease signing.

    The office re-types the record when it takes an application or signs a lease, in the same
    change as that event, and we never post those types. So "prospect" with such an event as
    the newest can only come from a post of ours built before the office's change and applied
    after it (a request that hung past our read timeout while ResMan still did the work):
    the office's type is the one to keep in our next post, and to restore. Our own events are
    left out because event dates have whole seconds: that late post's events may tie with the
    office's and sort after it; and no post of ours lowers an office-only type on purpose
    (a push keeps ResMan's type unless its own status change sets one)."""
    kind = prospect.lead.customer_type
    if kind != CustomerType.PROSPECT:
        return kind
    theirs = (
        e for e in prospect.events if own_source is None or e.transaction_source != own_source
    )
    signal = _latest_signal(theirs)
    return kind if signal is None else _OFFICE_ONLY_TYPES.get(signal, kind)
