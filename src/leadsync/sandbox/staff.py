"""What on-site staff do to a prospect in ResMan, as pure edits of the typed model.

Each edit takes the stored prospect and the moment of the change and returns the new
prospect and the event it recorded (if any), the way ResMan's own UI would record it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from leadsync.resman.models import (
    Customer,
    CustomerType,
    Employee,
    Event,
    EventType,
    NamedItem,
    Phone,
    Prospect,
)
from leadsync.sandbox.posting import LOST_PREFIX


@dataclass(frozen=True, slots=True)
class StaffEdit:
    prospect: Prospect
    event: Event | None = None


#: The event ResMan records for a status change made without naming one.
DEFAULT_STATUS_EVENT = {
    CustomerType.PROSPECT: EventType.REACTIVATE,
    CustomerType.APPLICANT: EventType.APPLICATION,
    CustomerType.CURRENT_RESIDENT: EventType.LEASE_SIGN,
    CustomerType.LOST: EventType.CANCEL,
}


def _event(
    event_type: EventType | str,
    when: datetime,
    agent: Employee | None,
    *,
    comments: str | None = None,
    reasons: str | None = None,
    source: str | None = None,
    first_contact: bool = False,
) -> Event:
    return Event(
        event_type=str(event_type),
        event_date=when,
        agent_id=agent.id if agent else None,
        agent_name=agent.name if agent else None,
        first_contact=first_contact,
        transaction_source=source,
        comments=comments,
        event_reasons=reasons,
    )


def _retype(prospect: Prospect, customer_type: CustomerType) -> Prospect:
    lead = dataclasses.replace(prospect.lead, customer_type=customer_type)
    return dataclasses.replace(prospect, customers=(lead, *prospect.customers[1:]))


def _append(prospect: Prospect, event: Event) -> StaffEdit:
    return StaffEdit(dataclasses.replace(prospect, events=(*prospect.events, event)), event)


def new_walk_in(
    *,
    first_name: str,
    last_name: str,
    email: str | None,
    phone: str | None,
    source: NamedItem,
    agent: Employee | None,
    when: datetime,
) -> Prospect:
    """A prospect entered by staff (walk-in, phone call, ILS lead), without ResMan ids yet."""
    customer = Customer(
        customer_type=CustomerType.PROSPECT,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phones=(Phone(phone),) if phone else (),
    )
    event = _event(EventType.WALK_IN, when, agent, source=source.id, first_contact=True)
    return Prospect(customers=(customer,), events=(event,))


def set_status(
    prospect: Prospect,
    *,
    customer_type: CustomerType,
    event_type: EventType | None,
    comments: str | None,
    agent: Employee | None,
    when: datetime,
) -> StaffEdit:
    chosen = event_type or DEFAULT_STATUS_EVENT[customer_type]
    return _append(_retype(prospect, customer_type), _event(chosen, when, agent, comments=comments))


def add_note(prospect: Prospect, *, text: str, agent: Employee | None, when: datetime) -> StaffEdit:
    return _append(prospect, _event(EventType.OTHER, when, agent, comments=text))


def book_tour(
    prospect: Prospect,
    *,
    start: datetime,
    comments: str | None,
    agent: Employee | None,
) -> StaffEdit:
    """An Appointment event dated at the tour's start (ResMan reads it as UTC)."""
    return _append(prospect, _event(EventType.APPOINTMENT, start, agent, comments=comments))


def complete_tour(
    prospect: Prospect, *, comments: str | None, agent: Employee | None, when: datetime
) -> StaffEdit:
    return _append(prospect, _event(EventType.SHOW, when, agent, comments=comments))


def mark_lost(
    prospect: Prospect, *, reason: NamedItem, agent: Employee | None, when: datetime
) -> StaffEdit:
    """Type lost plus a Cancel event carrying the lost reason, as ResMan records it."""
    event = _event(
        EventType.CANCEL, when, agent, reasons=LOST_PREFIX + reason.name, source=reason.id
    )
    return _append(_retype(prospect, CustomerType.LOST), event)


def reactivate(
    prospect: Prospect, *, comments: str | None, agent: Employee | None, when: datetime
) -> StaffEdit:
    event = _event(EventType.REACTIVATE, when, agent, comments=comments)
    return _append(_retype(prospect, CustomerType.PROSPECT), event)


def edit_contact(
    prospect: Prospect,
    *,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    phone: str | None,
) -> StaffEdit:
    """Staff edits contact fields; None leaves a field as it is. No event is recorded."""
    lead = prospect.lead
    phones = lead.phones
    if phone is not None:
        kind = phones[0].phone_type if phones else "cell"
        phones = (Phone(phone, kind), *phones[1:])
    edited = dataclasses.replace(
        lead,
        first_name=first_name if first_name is not None else lead.first_name,
        last_name=last_name if last_name is not None else lead.last_name,
        email=email if email is not None else lead.email,
        phones=phones,
    )
    return StaffEdit(dataclasses.replace(prospect, customers=(edited, *prospect.customers[1:])))
