"""ResMan prospect -> DomIQ lead, conversation context and user profile (the spec's
ResManToDomIQMapper), pure: no I/O, no clock.

:func:`prospect_fields` gives the comparable fields the three-way merge works on. Contact
values that are junk or invalid in ResMan (none@none.com, "000-000-0000", "Anonymous", an
address without a domain) map to None rather than being imported: ResMan keeps them (our
push omits blanks, never overwriting with one), and a placeholder taken as a value would
stand against the chatbot's real value as a conflict instead of being replaced by it.

:func:`resman_context` is what the chatbot reads from the conversation's context JSON. Keys:

- ``resman_status``: our status derived from Customer@Type and the latest events.
- ``customer_type``: ResMan's Customer@Type (prospect, applicant, current_resident, lost).
- ``stage``, ``priority``: the conversation stage and follow-up priority of that status
  (:data:`STATUS_CONTEXT`).
- ``tour_time``: the booked tour in the property's time zone, ISO 8601 with offset; the
  latest Appointment event unless a Show is dated at or after it (the tour took place) or
  the lead is lost. None when there is no pending tour.
- ``tour_time_utc``: the same instant in UTC (ResMan reads appointment times as UTC).
- ``next_follow_up``: the next scheduled contact; ResMan has no follow-up date, so this is
  the pending tour (same value as ``tour_time``) or None.
- ``agent_name``: the leasing agent of the latest event that names one, or None.
- ``recent_notes``: up to five notes, newest first (:func:`notes_from_events`).
- ``conversation_updates``: the office's notes, calls, texts and emails (events with
  comments, not ours: no echo of our transcript), oldest first, the latest
  :data:`UPDATES_LIMIT` (the spec's ``mapNotesToUpdates``).
- ``lost_reason``: for a lost lead, the reason of the latest Cancel (the text after
  "Prospect Lost: "), else None.
- ``custom_fields``: ResMan preferences DomIQ has no field for (floorplan, unit,
  lease_terms, bathrooms, comment); only those present.
- ``resman_prospect_id``, ``resman_person_id``: the lead customer's ResMan ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadsync.mapping.lead import LeadFields, PetInfo
from leadsync.mapping.normalize import (
    is_junk_email,
    is_junk_name,
    is_junk_phone,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from leadsync.mapping.status import LeadStatus, derive_status
from leadsync.resman.models import Customer, Event, EventType, Preferences, Prospect

LEAD_SOURCE = "resman"
DEFAULT_NOTES_LIMIT = 5
#: Office updates kept in the chatbot's context (oldest first).
UPDATES_LIMIT = 50
LOST_REASON_PREFIX = "Prospect Lost: "

#: The spec's mapLeadStatusToContext: conversation stage and follow-up priority per status.
STATUS_CONTEXT: Mapping[LeadStatus, tuple[str, str]] = {
    LeadStatus.NEW: ("initial_contact", "high"),
    LeadStatus.CONTACTED: ("contacted", "high"),
    LeadStatus.QUALIFIED: ("qualified", "medium"),
    LeadStatus.TOUR_SCHEDULED: ("tour_scheduled", "medium"),
    LeadStatus.APPLICATION: ("application", "low"),
    LeadStatus.LEASED: ("leased", "low"),
    LeadStatus.LOST: ("lost", "low"),
}


# --- fields --------------------------------------------------------------------------------
def _name(value: str | None) -> str | None:
    return None if is_junk_name(value) else normalize_name(value)


def _email(value: str | None) -> str | None:
    return None if is_junk_email(value) else normalize_email(value)


def _phone(customer: Customer) -> str | None:
    """The first usable phone in E.164; junk ones (all zeros, invalid) are skipped."""
    for phone in customer.phones:
        if not is_junk_phone(phone.number):
            return normalize_phone(phone.number)
    return None


def _preference_fields(prefs: Preferences | None) -> dict[str, Any]:
    if prefs is None:
        return {}
    rent = prefs.desired_rent
    budget_min = budget_max = None
    if rent is not None:
        # DesiredRent is an exact amount or a range; an exact amount is both ends.
        budget_min = rent.min if rent.min is not None else rent.exact
        budget_max = rent.max if rent.max is not None else rent.exact
    return {
        "move_in_date": prefs.target_move_in_date,
        "budget_min": budget_min,
        "budget_max": budget_max,
        "bedrooms": prefs.bedrooms_exact
        if prefs.bedrooms_exact is not None
        else prefs.bedrooms_max,
        "occupants": prefs.occupants,
        "pets": tuple(PetInfo(p.pet_type, p.count) for p in prefs.pets),
    }


def prospect_contact(prospect: Prospect) -> tuple[str | None, str | None]:
    """The lead customer's email and phone exactly as :func:`prospect_fields` gives them."""
    lead = prospect.lead
    return _email(lead.email), _phone(lead)


def prospect_fields(prospect: Prospect) -> LeadFields:
    """The lead customer's (the first one's) comparable fields; raises ValueError for a
    prospect without customers."""
    lead = prospect.lead
    email, phone = prospect_contact(prospect)
    return LeadFields(
        first_name=_name(lead.first_name),
        last_name=_name(lead.last_name),
        email=email,
        phone=phone,
        status=derive_status(prospect).value,
        **_preference_fields(prospect.preferences),
    )


def user_profile(prospect: Prospect) -> dict[str, Any]:
    """The spec's mapLeadToUserProfile: the DomIQ user for a lead first seen in ResMan."""
    fields = prospect_fields(prospect)
    return {
        "first_name": fields.first_name,
        "last_name": fields.last_name,
        "email": fields.email,
        "phone": fields.phone,
        "lead_source": LEAD_SOURCE,
    }


# --- context -------------------------------------------------------------------------------
def status_context(status: LeadStatus) -> dict[str, str]:
    """The spec's mapLeadStatusToContext."""
    stage, priority = STATUS_CONTEXT[LeadStatus(status)]
    return {"stage": stage, "priority": priority}


def _utc(moment: datetime) -> datetime:
    # The model promises aware datetimes; a naive one is ResMan's UTC, never the host's zone.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _newest_first(events: Iterable[Event]) -> list[Event]:
    # Stable sort: events with the same time keep their document order.
    return sorted(events, key=lambda e: _utc(e.event_date), reverse=True)


def notes_from_events(
    events: Iterable[Event], *, limit: int = DEFAULT_NOTES_LIMIT, own_source: str | None = None
) -> list[dict[str, Any]]:
    """Events with comments as conversation updates, newest first, at most ``limit``.

    Events carrying ``own_source`` (the chatbot's TransactionSource id) are ours, the
    FirstContact among them: the conversation has them already, so they are skipped.
    Each note: {"note", "event_type", "date" (ISO 8601, UTC), "agent_name"}.
    """
    notes: list[dict[str, Any]] = []
    for event in _newest_first(events):
        if len(notes) >= limit:
            break
        if own_source is not None and event.transaction_source == own_source:
            continue
        text = (event.comments or "").strip()
        if not text:
            continue
        notes.append(
            {
                "note": text,
                "event_type": event.event_type,
                "date": _utc(event.event_date).isoformat(),
                "agent_name": event.agent_name,
            }
        )
    return notes


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def pending_tour(events: Iterable[Event]) -> datetime | None:
    """UTC time of the latest Appointment unless a Show is dated at or after it."""
    appointment: datetime | None = None
    shown: datetime | None = None
    for event in events:
        when = _utc(event.event_date)
        if event.event_type == EventType.APPOINTMENT and (
            appointment is None or when > appointment
        ):
            appointment = when
        elif event.event_type == EventType.SHOW and (shown is None or when > shown):
            shown = when
    if appointment is None or (shown is not None and shown >= appointment):
        return None
    return appointment


def _lost_reason(events: Iterable[Event]) -> str | None:
    for event in _newest_first(events):
        if event.event_type == EventType.CANCEL:
            reasons = (event.event_reasons or "").strip()
            reasons = reasons.removeprefix(LOST_REASON_PREFIX.strip()).strip()
            return reasons or None
    return None


def _custom_fields(prefs: Preferences | None) -> dict[str, Any]:
    if prefs is None:
        return {}
    extra = {
        "floorplan": prefs.floorplan,
        "unit": prefs.unit_marketing_name,
        "lease_terms": prefs.lease_terms,
        "bathrooms": str(prefs.bathrooms_exact) if prefs.bathrooms_exact is not None else None,
        "comment": prefs.comment,
    }
    return {key: value for key, value in extra.items() if value is not None}


def resman_context(
    prospect: Prospect, *, timezone: str, own_source: str | None = None
) -> dict[str, Any]:
    """The conversation's ResMan context (JSON-safe); keys are described in the module
    docstring. ``timezone`` is the property's IANA zone (e.g. "America/Chicago"); raises
    ValueError for an unknown one."""
    zone = _zone(timezone)
    status = derive_status(prospect)
    lead = prospect.lead
    tour = None if status == LeadStatus.LOST else pending_tour(prospect.events)
    tour_local = tour.astimezone(zone).isoformat() if tour is not None else None
    agent = next((e.agent_name for e in _newest_first(prospect.events) if e.agent_name), None)
    return {
        "resman_status": status.value,
        "customer_type": lead.customer_type.value,
        **status_context(status),
        "tour_time": tour_local,
        "tour_time_utc": tour.isoformat() if tour is not None else None,
        "next_follow_up": tour_local,
        "agent_name": agent,
        "recent_notes": notes_from_events(prospect.events, own_source=own_source),
        # Reversed in and out: oldest first, and notes of the same second in document order.
        "conversation_updates": notes_from_events(
            prospect.events[::-1], limit=UPDATES_LIMIT, own_source=own_source
        )[::-1],
        "lost_reason": _lost_reason(prospect.events) if status == LeadStatus.LOST else None,
        "custom_fields": _custom_fields(prospect.preferences),
        "resman_prospect_id": lead.prospect_id,
        "resman_person_id": lead.person_id,
    }


#: The context keys that only the office's work fills (a tour, notes, a lost reason).
_OFFICE_ACTIVITY_KEYS = ("tour_time", "recent_notes", "conversation_updates", "lost_reason")


def office_activity(context: dict[str, Any]) -> bool:
    """Whether a :func:`resman_context` holds work on the lead: the office's notes or lost
    reason, or a pending tour (booked by either side). The first context recorded for a lead
    our own push created is news only then: otherwise it is our create echoing back (status,
    type and ids we posted ourselves)."""
    return any(context.get(key) for key in _OFFICE_ACTIVITY_KEYS)
