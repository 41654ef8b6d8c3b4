"""What the pages show, read for one viewer's properties (never beyond them).

Figures that exist elsewhere are taken from there: the success criteria from
``observability.report`` (the same numbers as ``leadsync report``), queue figures from
``admin.queue``, conflicts from ``conflicts.service``. What is only the dashboard's is here:
the health card around those figures, the lead list and a lead's timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import queue as admin_queue
from leadsync.db.models import (
    Conversation,
    LeadLink,
    LeadSyncLog,
    Property,
    ResmanIntegration,
    StatusHistory,
    SyncConflict,
)
from leadsync.db.types import utcnow
from leadsync.observability.report import build_report

#: The period the health page's success criteria cover.
HEALTH_PERIOD = timedelta(hours=24)
LEAD_LIST_LIMIT = 50


@dataclass(slots=True)
class Health:
    property: Property
    integration: ResmanIntegration | None
    queue: dict[str, int] = field(default_factory=dict)
    oldest_queued: datetime | None = None
    circuit_open: bool = False
    report: dict[str, Any] | None = None


async def health(
    session: AsyncSession, *, properties: list[dict[str, Any]], now: datetime | None = None
) -> list[Health]:
    """One card per property: its queue, circuit, last pull and the success criteria of
    the last ``HEALTH_PERIOD`` for its integration."""
    now = now or utcnow()
    cards = []
    for row in properties:
        integration: ResmanIntegration | None = row["integration"]
        card = Health(property=row["property"], integration=integration)
        if integration is not None:
            ids = [integration.id]
            card.queue = await admin_queue.queue_stats(session, integration_ids=ids)
            card.oldest_queued = await admin_queue.oldest_queued(session, integration_ids=ids)
            until = integration.circuit_open_until
            card.circuit_open = until is not None and until > now
            card.report = await build_report(session, since=HEALTH_PERIOD, integration_ids=ids)
        cards.append(card)
    return cards


async def recent_leads(
    session: AsyncSession, *, property_ids: frozenset[uuid.UUID]
) -> list[tuple[Conversation, str | None]]:
    """The most recently changed leads of the viewer's properties, with their prospect id."""
    rows = await session.execute(
        select(Conversation, LeadLink.resman_prospect_id)
        .outerjoin(LeadLink, LeadLink.conversation_id == Conversation.id)
        .where(Conversation.property_id.in_(list(property_ids)))
        .order_by(Conversation.updated_at.desc(), Conversation.id)
        .limit(LEAD_LIST_LIMIT)
    )
    return [(conv, prospect) for conv, prospect in rows.all()]


async def lead_of(
    session: AsyncSession, *, conversation_id: uuid.UUID, property_ids: frozenset[uuid.UUID]
) -> tuple[Conversation, LeadLink | None] | None:
    """The lead and its link, or None when it is not one of the viewer's (as if unknown)."""
    conv = await session.get(Conversation, conversation_id)
    if conv is None or conv.property_id not in property_ids:
        return None
    link = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conv.id))
    return conv, link


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    kind: str  # sync | status | conflict | resolution
    side: str  # domiq | resman | both
    title: str
    detail: str = ""
    outcome: str = ""


def _value(value: Any) -> str:
    return "(blank)" if value is None else str(value)


def _sync_entry(log: LeadSyncLog) -> Entry:
    side = {"to_resman": "domiq", "from_resman": "resman"}.get(log.sync_direction, "both")
    details = log.details or {}
    closed = log.conflict_resolution == "manual_review" and "conflict" in details
    if closed and log.sync_status == "success":
        # conflicts.service logs a person's decision so, naming the conflict it closed.
        title = f"conflict on {details.get('field', '?')} closed by a person"
    elif log.sync_status == "conflict":
        title = f"{log.sync_type} {log.sync_direction.replace('_', ' ')}: parked for review"
    else:
        title = f"{log.sync_type} {log.sync_direction.replace('_', ' ')}"
    fields = details.get("fields")
    parts = [", ".join(map(str, fields))] if isinstance(fields, list) else []
    parts += [f"{key} {details[key]}" for key in ("action", "source") if details.get(key)]
    detail = " · ".join(parts)
    if log.conflict_resolution and log.conflict_resolution != "manual_review":
        detail = f"{detail} (rule {log.conflict_resolution})".strip()
    outcome = log.sync_status + (f": {log.error_message}" if log.error_message else "")
    return Entry(log.created_at, "sync", side, title, detail, outcome)


def _conflict_entries(conflict: SyncConflict) -> list[Entry]:
    if conflict.conflict_type == "duplicate_lead":
        parked = f"possible duplicate of ResMan prospect {conflict.other_prospect_id}"
        found = Entry(conflict.created_at, "conflict", "both", parked, "", conflict.status)
    else:
        detail = (
            f"ours {_value(conflict.domiq_value)} / ResMan {_value(conflict.resman_value)} "
            f"(agreed before: {_value(conflict.base_value)})"
        )
        found = Entry(
            conflict.created_at, "conflict", "both", f"conflict on {conflict.field}", detail
        )
    entries = [found]
    if conflict.resolved_at is not None:
        title = f"{conflict.field}: {conflict.resolution} by {conflict.resolved_by or '?'}"
        value = "" if conflict.resolution == "dismissed" else _value(conflict.resolved_value)
        entries.append(Entry(conflict.resolved_at, "resolution", "both", title, value))
    return entries


async def timeline(session: AsyncSession, *, conversation_id: uuid.UUID) -> list[Entry]:
    """Every sync, status change, conflict and resolution of a lead, oldest first."""
    logs = await session.scalars(
        select(LeadSyncLog).where(LeadSyncLog.conversation_id == conversation_id)
    )
    entries = [_sync_entry(log) for log in logs]
    history = await session.scalars(
        select(StatusHistory).where(StatusHistory.conversation_id == conversation_id)
    )
    for change in history:
        title = f"status {change.old_status or '(none)'} -> {change.new_status}"
        entries.append(
            Entry(change.created_at, "status", change.source, title, change.changed_by or "")
        )
    conflicts = await session.scalars(
        select(SyncConflict).where(SyncConflict.conversation_id == conversation_id)
    )
    for conflict in conflicts:
        entries += _conflict_entries(conflict)
    # A stable order for entries of the same instant: what happened first is logged first.
    order = {"conflict": 0, "status": 1, "sync": 2, "resolution": 3}
    return sorted(entries, key=lambda e: (e.at, order[e.kind]))


async def conflict_leads(
    session: AsyncSession, *, conflicts: list[SyncConflict]
) -> dict[uuid.UUID, Conversation]:
    """The leads the conflicts are about (their names, for the person deciding)."""
    ids = {c.conversation_id for c in conflicts}
    if not ids:
        return {}
    rows = await session.scalars(select(Conversation).where(Conversation.id.in_(list(ids))))
    return {conv.id: conv for conv in rows}
