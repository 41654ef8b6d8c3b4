"""How PostLeadManagement4_0 treats a posted prospect: validation, create, merge.

Pure functions over the typed model. The messages are ResMan's where known (Transaction
Source, Prospect not found); the validation wording is ours but always starts with
"Validation error" so a client can classify it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from leadsync.resman.models import (
    POSTABLE_EVENT_TYPES,
    RESMAN_ORG,
    Customer,
    Event,
    EventType,
    Identification,
    IDType,
    Phone,
    Preferences,
    Prospect,
)
from leadsync.sandbox.tenants import Account, Property, normalize_guid

TRANSACTION_SOURCE_NOT_FOUND = "Transaction Source could not be found"
PROSPECT_NOT_FOUND = "Prospect could not be found"
NAMES_REQUIRED = "Validation error: FirstName and LastName are required"
CUSTOMER_REQUIRED = "Validation error: a Customer is required"
LOST_PREFIX = "Prospect Lost: "


class PostRejected(Exception):
    """A business error: ResMan answers HTTP 200 with Status Error and this description."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def resolve_target(posted: Prospect, *, stored: Callable[[str], Prospect | None]) -> str | None:
    """The id of the prospect a post updates, or None for a create; raises PostRejected.

    An update names the prospect by its ResMan ProspectID (and optionally the lead's PersonID,
    which must then be that prospect's lead).
    """
    if not posted.customers:
        raise PostRejected(CUSTOMER_REQUIRED)
    raw_id = posted.prospect_id
    if raw_id is None:
        if posted.person_id is not None:
            raise PostRejected("Validation error: ProspectID is required with PersonID")
        lead = posted.lead
        if not (lead.first_name or "").strip() or not (lead.last_name or "").strip():
            raise PostRejected(NAMES_REQUIRED)
        return None
    prospect_id = normalize_guid(raw_id)
    current = stored(prospect_id) if prospect_id is not None else None
    if prospect_id is None or current is None:
        raise PostRejected(PROSPECT_NOT_FOUND)
    if posted.person_id is not None and normalize_guid(posted.person_id) != current.person_id:
        raise PostRejected(PROSPECT_NOT_FOUND)
    return prospect_id


def check_events(events: Iterable[Event], *, prop: Property, account: Account) -> tuple[Event, ...]:
    """Validate posted events and complete them as ResMan shows them back.

    A Cancel event's TransactionSource is a lost-reason id (prospect sources are tolerated);
    any other event's is a prospect source id. Agent names are filled in from the employee id.
    """
    sources = {s.id for s in prop.prospect_sources}
    reasons = {r.id: r.name for r in account.lost_reasons}
    agents = {e.id: e.name for e in prop.employees}
    checked: list[Event] = []
    for event in events:
        if event.event_type not in POSTABLE_EVENT_TYPES:
            raise PostRejected(f"Validation error: EventType '{event.event_type}' is not valid")
        source, reasons_text = event.transaction_source, event.event_reasons
        if source is not None:
            source = normalize_guid(source)
            if source in reasons and event.event_type == EventType.CANCEL:
                reasons_text = reasons_text or LOST_PREFIX + reasons[source]
            elif source not in sources:
                raise PostRejected(TRANSACTION_SOURCE_NOT_FOUND)
        agent_name = event.agent_name or agents.get(normalize_guid(event.agent_id or "") or "")
        checked.append(
            dataclasses.replace(
                event,
                transaction_source=source,
                event_reasons=reasons_text,
                agent_name=agent_name,
            )
        )
    return tuple(checked)


def resman_ids(prospect_id: str, person_id: str) -> tuple[Identification, ...]:
    return (
        Identification(IDType.PROSPECT_ID.value, prospect_id, RESMAN_ORG),
        Identification(IDType.PERSON_ID.value, person_id, RESMAN_ORG),
    )


def _with_ids(customer: Customer, prospect_id: str, person_id: str) -> Customer:
    # Identifications of other organisations (the caller's own ids) are kept as posted.
    others = tuple(i for i in customer.identifications if i.organization_name != RESMAN_ORG)
    return dataclasses.replace(
        customer, identifications=resman_ids(prospect_id, person_id) + others
    )


def new_prospect(
    posted: Prospect, *, prospect_id: str, new_person_id: Callable[[], str]
) -> Prospect:
    """The stored form of a created prospect: every customer gets ResMan ids."""
    customers = tuple(_with_ids(c, prospect_id, new_person_id()) for c in posted.customers)
    return dataclasses.replace(posted, customers=customers)


def _merge_phones(old: tuple[Phone, ...], new: tuple[Phone, ...]) -> tuple[Phone, ...]:
    by_type = {p.phone_type: p for p in old}
    for phone in new:
        if phone.number.strip():
            by_type[phone.phone_type] = phone
    return tuple(by_type.values())


def _text(new: str | None, old: str | None) -> str | None:
    return new if new is not None and new.strip() else old


def _merge_customer(old: Customer, new: Customer) -> Customer:
    """Posted values replace stored ones; absent or blank ones leave them alone."""
    others = {
        (i.id_type, i.organization_name): i
        for i in old.identifications + new.identifications
        if i.organization_name != RESMAN_ORG
    }
    resman = tuple(i for i in old.identifications if i.organization_name == RESMAN_ORG)
    return Customer(
        customer_type=new.customer_type,
        identifications=resman + tuple(others.values()),
        first_name=_text(new.first_name, old.first_name),
        last_name=_text(new.last_name, old.last_name),
        phones=_merge_phones(old.phones, new.phones),
        email=_text(new.email, old.email),
    )


def _merge_preferences(old: Preferences | None, new: Preferences | None) -> Preferences | None:
    if new is None or old is None:
        return new if old is None else old
    changes = {
        f.name: getattr(new, f.name)
        for f in dataclasses.fields(Preferences)
        if getattr(new, f.name) not in (None, ())
    }
    return dataclasses.replace(old, **changes)


def merge_prospect(
    stored: Prospect,
    posted: Prospect,
    *,
    prospect_id: str,
    events: tuple[Event, ...],
    new_person_id: Callable[[], str],
) -> Prospect:
    """Apply a posted update (already resolved): the lead merges into the stored lead, further
    customers merge by PersonID (or are added), preferences merge field by field, events are
    appended."""
    lead = _merge_customer(stored.lead, posted.lead)
    others = {c.person_id: c for c in stored.customers[1:]}
    for customer in posted.customers[1:]:
        person = normalize_guid(customer.person_id or "")
        if person is not None and person in others:
            others[person] = _merge_customer(others[person], customer)
        else:
            added = _with_ids(customer, prospect_id, new_person_id())
            others[added.person_id] = added
    return Prospect(
        customers=(lead, *others.values()),
        preferences=_merge_preferences(stored.preferences, posted.preferences),
        events=stored.events + events,
    )
