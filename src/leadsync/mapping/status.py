"""Our seven lead statuses and how they map to ResMan's types and events (both ways).

ResMan has no "contacted", "qualified" or "tour scheduled" states: they are events. The
mapping is data (:class:`StatusRule`) so an integration can override it without code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from leadsync.resman.models import CustomerType, Event, EventType, Prospect

#: Base-snapshot key holding the status ResMan's record *derived to* when both sides last
#: agreed (see :func:`observed_status`); it sits next to the agreed ``status``.
RESMAN_STATUS_KEY = "resman_status"


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


def _latest_signal(events: Iterable[Event]) -> LeadStatus | None:
    """The status the newest meaningful event implies (ties keep document order)."""
    signal: LeadStatus | None = None
    for event in sorted(events, key=lambda e: e.event_date):
        kind = event.event_type
        if kind == EventType.LEASE_SIGN:
            signal = LeadStatus.LEASED
        elif kind in _APPLICATION_EVENTS:
            signal = LeadStatus.APPLICATION
        elif kind == EventType.CANCEL:
            signal = LeadStatus.LOST
        elif kind == EventType.REACTIVATE:
            signal = LeadStatus.NEW
        elif kind in _TOUR_EVENTS:
            signal = LeadStatus.TOUR_SCHEDULED
        elif kind in _CONTACT_EVENTS:
            signal = LeadStatus.CONTACTED
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


def derive_after_post(
    current: Prospect, *, customer_type: CustomerType, events: Iterable[Event]
) -> LeadStatus:
    """The status ResMan's record will derive to once ``events`` are posted with
    ``customer_type`` (what a re-read after the post would show, computed without one)."""
    lead = replace(current.lead, customer_type=customer_type)
    return derive_status(
        replace(
            current,
            customers=(lead, *current.customers[1:]),
            events=(*current.events, *events),
        )
    )


def observed_status(derived: str, base: Mapping[str, Any] | None) -> str:
    """ResMan's status as the three-way merge must see it.

        ResMan cannot hold "qualified" (nor "contacted" or "tour scheduled" as a state): its
        status is *derived* from the customer type and the latest events, so a status ResMan
        cannot represent reads back as something else (qualified -> "contacted"). Compared with
        the base as is, that would look like an office change and revert ours on every poll.

        So the base also remembers what ResMan derived to when both sides agreed
        (:data:`RESMAN_STATUS_KEY`). The same derivation now means the office did nothing that
        moves the status: ResMan still "holds" the agreed status. A different one (an
        application, a Cancel, a new appointment or contact) is a real office change and is
        returned as is, so the merge takes it as it does today (except a contact event on a
    qualified lead, see below). A base without the key (written
        before this rule or by a path that does not know it) keeps the plain derived status.
    """
    agreed = (base or {}).get("status")
    if not agreed or not base or RESMAN_STATUS_KEY not in base:
        return derived
    if base[RESMAN_STATUS_KEY] == derived:
        return str(agreed)
    if derived == LeadStatus.CONTACTED and agreed == LeadStatus.QUALIFIED:
        # A follow-up call or text is office activity, not a status: qualified comes after
        # contact, so a contact event never undoes it.
        return str(agreed)
    return derived


def snapshot_status(
    new_base: Mapping[str, Any],
    *,
    derived: str,
    settled: bool,
    old_base: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``new_base`` plus the derived status to remember with it: the one ResMan derives to
    now when the status was settled (both sides agree), else the old snapshot's (an open
    status conflict must show again next time, so the office's change is not forgotten)."""
    remembered = derived if settled else (old_base or {}).get(RESMAN_STATUS_KEY)
    base = dict(new_base)
    if remembered is None:
        base.pop(RESMAN_STATUS_KEY, None)
    else:
        base[RESMAN_STATUS_KEY] = remembered
    return base
