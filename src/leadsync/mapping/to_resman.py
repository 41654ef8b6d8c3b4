"""DomIQ lead -> MITS prospect (the spec's DomIQToResManMapper), pure.

The overwrite guard lives here: a junk or missing contact value is *omitted* from the
document, and ResMan keeps what it has (an omitted element changes nothing on update).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from leadsync.mapping.lead import LeadFields, LeadNarrative
from leadsync.mapping.normalize import is_junk_email, is_junk_name, is_junk_phone
from leadsync.mapping.status import DEFAULT_STATUS_RULES, LeadStatus, StatusRule
from leadsync.resman.models import (
    Customer,
    CustomerType,
    Event,
    EventType,
    Identification,
    IDType,
    Pet,
    Phone,
    Preferences,
    Prospect,
    RentRange,
)

#: ResMan's Comments fields are free text but long texts get cut in its UI.
MAX_COMMENT_CHARS = 2000
TOUR_TYPES = ("in_person", "virtual", "self_guided")


@dataclass(frozen=True, slots=True)
class ProspectIds:
    prospect_id: str
    person_id: str | None = None


def map_lead_score(score: float | None) -> int | None:
    """DomIQ's 0-100 score on ResMan's 0-100 scale (clamped; ResMan has no score field, so
    it travels in the event comments)."""
    if score is None:
        return None
    return int(min(max(round(score), 0), 100))


_BEDROOM_WORDS = {"studio": 0, "efficiency": 0, "one": 1, "two": 2, "three": 3, "four": 4}


def parse_bedrooms(preference: str | None) -> int | None:
    """'studio' -> 0, '2br' / '2 bed' / 'two bedrooms' -> 2; anything else -> None."""
    if not preference:
        return None
    text = preference.strip().lower()
    for word, count in _BEDROOM_WORDS.items():
        if text.startswith(word):
            return count
    match = re.match(r"(\d+)\s*(?:br|bd|bed|bedroom|bedrooms|b)?\b", text)
    return int(match.group(1)) if match else None


def narrative_comments(narrative: LeadNarrative | None) -> str | None:
    """What the leasing office reads about the chat, as event comments."""
    if narrative is None:
        return None
    lines: list[str] = []
    score = map_lead_score(narrative.lead_score)
    lines.append("DomIQ chatbot lead" + (f" (lead score {score}/100)" if score is not None else ""))
    if narrative.initial_message:
        lines.append(f"First message: {narrative.initial_message.strip()}")
    if narrative.transcript_summary:
        lines.append(f"Conversation summary: {narrative.transcript_summary.strip()}")
    if narrative.apartment_size_preference:
        lines.append(f"Apartment size: {narrative.apartment_size_preference}")
    if narrative.desired_features:
        lines.append("Wants: " + ", ".join(narrative.desired_features))
    if narrative.work_location:
        lines.append(f"Works at: {narrative.work_location}")
    if narrative.reason_for_moving:
        lines.append(f"Reason for moving: {narrative.reason_for_moving}")
    return _clip("\n".join(lines))


def _clip(text: str) -> str:
    return text[: MAX_COMMENT_CHARS - 1] + "…" if len(text) > MAX_COMMENT_CHARS else text


def guard_fields(fields: LeadFields) -> LeadFields:
    """The overwrite guard: junk contact values become blanks, which are never written.

    Comparisons (merge, echo checks) use the guarded values too, so a placeholder on our side
    never looks like a change that ResMan must receive.
    """
    return replace(
        fields,
        first_name=None if is_junk_name(fields.first_name) else fields.first_name,
        last_name=None if is_junk_name(fields.last_name) else fields.last_name,
        email=None if is_junk_email(fields.email) else fields.email,
        phone=None if is_junk_phone(fields.phone) else fields.phone,
    )


def build_customer(
    fields: LeadFields,
    *,
    ids: ProspectIds | None = None,
    customer_type: CustomerType = CustomerType.PROSPECT,
) -> Customer:
    """The lead's Customer element; junk values are left out (the overwrite guard)."""
    identifications: tuple[Identification, ...] = ()
    if ids is not None:
        identifications = (Identification(IDType.PROSPECT_ID.value, ids.prospect_id),)
        if ids.person_id:
            identifications += (Identification(IDType.PERSON_ID.value, ids.person_id),)
    safe = guard_fields(fields)
    return Customer(
        customer_type=customer_type,
        identifications=identifications,
        first_name=safe.first_name,
        last_name=safe.last_name,
        phones=(Phone(safe.phone, "cell"),) if safe.phone else (),
        email=safe.email,
    )


def build_preferences(fields: LeadFields) -> Preferences | None:
    rent = None
    if fields.budget_min is not None or fields.budget_max is not None:
        rent = RentRange(min=fields.budget_min, max=fields.budget_max)
    prefs = Preferences(
        target_move_in_date=fields.move_in_date,
        desired_rent=rent,
        bedrooms_exact=fields.bedrooms,
        pets=tuple(Pet(p.pet_type, p.count) for p in fields.pets),
        occupants=fields.occupants,
    )
    return None if prefs == Preferences() else prefs


def first_contact_event(
    *, at: datetime, transaction_source: str, narrative: LeadNarrative | None
) -> Event:
    """The first event of a new lead: FirstContact plus the chatbot's TransactionSource."""
    rule = DEFAULT_STATUS_RULES[LeadStatus.NEW]
    return Event(
        event_type=(rule.event_type or EventType.CONTACT).value,
        event_date=at.astimezone(UTC),
        first_contact=True,
        transaction_source=transaction_source,
        comments=narrative_comments(narrative),
    )


def new_chat_event(
    *, at: datetime, transaction_source: str, narrative: LeadNarrative | None, ref: str
) -> Event:
    """A returning prospect chatted again: a Contact event (not a first contact) with the new
    chat's first message and summary. ``ref`` (a short id of the conversation) tells one
    chat from another even when they say the same, so a retried push can recognise its own
    event and never post it twice."""
    body = narrative_comments(narrative) or "DomIQ chatbot lead"
    return Event(
        event_type=EventType.CONTACT.value,
        event_date=at.astimezone(UTC),
        first_contact=False,
        transaction_source=transaction_source,
        comments=_clip(f"New chat (ref {ref})\n{body}"),
    )


def tour_event(
    *,
    start: datetime,
    transaction_source: str | None,
    tour_type: str = "in_person",
    unit: str | None = None,
    notes: str | None = None,
    agent_id: str | None = None,
) -> Event:
    """A tour booking as an Appointment event; ResMan reads the time as UTC."""
    kind = tour_type if tour_type in TOUR_TYPES else "in_person"
    parts = [f"Tour booked by DomIQ chatbot ({kind.replace('_', ' ')})"]
    if unit:
        parts.append(f"Unit of interest: {unit}")
    if notes:
        parts.append(notes)
    return Event(
        event_type=EventType.APPOINTMENT.value,
        event_date=start.astimezone(UTC),
        agent_id=agent_id,
        transaction_source=transaction_source,
        comments="\n".join(parts),
    )


def note_event(*, at: datetime, transaction_source: str | None, comments: str) -> Event:
    """A note for the office that changes no status: an Other event with the comments."""
    return Event(
        EventType.OTHER.value,
        at.astimezone(UTC),
        transaction_source=transaction_source,
        comments=comments,
    )


def status_events(
    *,
    new_status: LeadStatus,
    previous_status: LeadStatus | None,
    at: datetime,
    transaction_source: str | None,
    lost_reason: tuple[str, str] | None = None,
    comments: str | None = None,
    rules: Mapping[LeadStatus, StatusRule] = DEFAULT_STATUS_RULES,
) -> tuple[CustomerType, list[Event]] | None:
    """Type and events that express a status change; None when ResMan owns that status.

    ``lost_reason`` is ``(id, name)`` from GetLostProspectReasons: the Cancel event carries
    the id as its TransactionSource and "Prospect Lost: <name>" as its reasons.
    """
    rule = rules[new_status]
    if not rule.pushable:
        return None
    when = at.astimezone(UTC)
    events: list[Event] = []
    if previous_status == LeadStatus.LOST and new_status != LeadStatus.LOST:
        events.append(Event(EventType.REACTIVATE.value, when, comments="Reopened by DomIQ"))
    if new_status == LeadStatus.LOST:
        reason_id, reason_name = lost_reason if lost_reason else (None, None)
        events.append(
            Event(
                EventType.CANCEL.value,
                when,
                transaction_source=reason_id,
                comments=comments,
                event_reasons=f"Prospect Lost: {reason_name}" if reason_name else None,
            )
        )
    elif rule.event_type is not None and new_status != previous_status:
        events.append(
            Event(
                rule.event_type.value,
                when,
                transaction_source=transaction_source,
                comments=comments,
            )
        )
    return rule.customer_type, events


def lead_to_prospect(
    fields: LeadFields,
    *,
    ids: ProspectIds | None = None,
    events: Iterable[Event] = (),
    customer_type: CustomerType = CustomerType.PROSPECT,
    extra_customers: Sequence[Customer] = (),
) -> Prospect:
    """The whole MITS prospect for a create (no ids) or an update (with ids)."""
    return Prospect(
        customers=(build_customer(fields, ids=ids, customer_type=customer_type), *extra_customers),
        preferences=build_preferences(fields),
        events=tuple(events),
    )
