"""What changed on a prospect, and the messages that announce it.

Every change (a post through the wire API or a staff action through the admin API) becomes a
:class:`Change`. The feed announces all of them with their ``origin`` so a consumer can skip
its own writes; the LeadUpdateWebhook goes out for staff changes only (see service.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from leadsync.resman.models import Event, Preferences, Prospect
from leadsync.sandbox.prospects import ProspectRecord

_PREFERENCES = TypeAdapter(Preferences)

#: `updated_by` of a staff change made without naming an employee (the spec's value).
RESMAN_USER = "resman_user"
#: `updated_by` of a change posted through the wire API.
API_USER = "api"


class ChangeKind(StrEnum):
    """The spec's RealTimeSyncMessage types that a prospect change can have."""

    NEW_LEAD = "new_lead"
    STATUS_CHANGE = "status_change"
    LEAD_UPDATE = "lead_update"


class Origin(StrEnum):
    API = "api"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Change:
    change_id: str
    kind: ChangeKind
    origin: Origin
    account_id: int
    record: ProspectRecord
    updated_fields: Mapping[str, Any]
    #: Events this change added, in order.
    events: tuple[Event, ...]
    updated_by: str


def iso(moment: datetime) -> str:
    return moment.isoformat()


def contact_fields(prospect: Prospect) -> dict[str, Any]:
    """The lead's fields a consumer syncs, keyed like the spec's lead shapes."""
    lead = prospect.lead
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "phone": lead.phones[0].number if lead.phones else None,
        "status": lead.customer_type.value,
    }


def diff_fields(before: Prospect | None, after: Prospect) -> dict[str, Any]:
    """Fields whose value differs (all non-empty ones for a new prospect)."""
    new = contact_fields(after)
    if before is None:
        changed = {k: v for k, v in new.items() if v is not None}
    else:
        old = contact_fields(before)
        changed = {k: v for k, v in new.items() if old[k] != v}
    before_prefs = before.preferences if before is not None else None
    if after.preferences is not None and after.preferences != before_prefs:
        changed["preferences"] = _PREFERENCES.dump_python(after.preferences, mode="json")
    return changed


def change_kind(before: Prospect | None, after: Prospect) -> ChangeKind:
    if before is None:
        return ChangeKind.NEW_LEAD
    if before.lead.customer_type != after.lead.customer_type:
        return ChangeKind.STATUS_CHANGE
    return ChangeKind.LEAD_UPDATE


def event_json(event: Event) -> dict[str, Any]:
    return {
        "type": event.event_type,
        "date": iso(event.event_date),
        "comments": event.comments,
        "agent_name": event.agent_name,
        "reasons": event.event_reasons,
    }


def lead_update_payload(change: Change) -> dict[str, Any]:
    """The spec's LeadUpdateWebhook body, with the ids a consumer needs to apply it."""
    record = change.record
    updated: dict[str, Any] = dict(change.updated_fields)
    if change.events:
        updated["event"] = event_json(change.events[-1])
    return {
        "lead_id": record.prospect_id,
        "status": record.status.value,
        "updated_fields": updated,
        "timestamp": iso(record.modified_at),
        "updated_by": change.updated_by,
        "sync_direction": "from_resman",
        "person_id": record.person_id,
        "property_id": record.property_id,
        "account_id": change.account_id,
        "event_id": change.change_id,
        "modified_at": iso(record.modified_at),
    }
