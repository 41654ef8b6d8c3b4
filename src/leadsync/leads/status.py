"""PUT /api/resman/leads/{lead_id}/status: a status change from either side.

``to_resman``: DomIQ changed the status; it is stored, and pushed through the queue (the
push merges with ResMan's current state, so an office change made meanwhile is not
overwritten). ``from_resman``: a relay tells us ResMan's status; it is merged against the
base like any ResMan change (priority rules, conflicts, echo suppression).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.db.models import Conversation, LeadLink, ResmanIntegration, SyncConflict
from leadsync.db.rows import load_for_change
from leadsync.errors import DomainError
from leadsync.events import publish_lead
from leadsync.leads.status_schemas import UpdateLeadStatusRequest
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.to_resman import guard_fields
from leadsync.merge import FieldOutcome, merge
from leadsync.sync.inbound.apply import rules_of
from leadsync.sync.queue.jobs import Placement, PushJob, enqueue_job
from leadsync.sync.records import conversation_fields, record_status
from leadsync.sync.synclog import log_sync
from leadsync.sync.writeback import WriteBack, apply_merge, base_before_push


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    conv: Conversation
    link: LeadLink | None
    job_id: uuid.UUID | None
    conflicts: list[FieldOutcome]
    resolved: list[FieldOutcome]


async def find_lead(
    session: AsyncSession, *, principal: Principal, lead_id: str
) -> tuple[Conversation, LeadLink | None]:
    """``lead_id`` is our conversation id (a UUID) or ResMan's ProspectID; either way only
    leads of the key's properties are found (others answer 404, like unknown ones)."""
    conv: Conversation | None = None
    try:
        conv = await load_for_change(session, Conversation, uuid.UUID(lead_id))
    except ValueError:
        conv = None
    if conv is None:
        conv = await session.scalar(
            select(Conversation)
            .join(LeadLink, LeadLink.conversation_id == Conversation.id)
            .where(LeadLink.resman_prospect_id == lead_id)
            .order_by(LeadLink.created_at)
            .limit(1)
            .with_for_update(of=Conversation)
        )
    if conv is None or conv.property_id not in principal.property_ids:
        raise DomainError(404, "Unknown lead", f"no lead {lead_id} for this API key")
    link = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conv.id))
    return conv, link


async def open_status_conflicts(
    session: AsyncSession, *, conversation_id: uuid.UUID
) -> list[SyncConflict]:
    """The lead's status conflicts still waiting for a person."""
    rows = await session.scalars(
        select(SyncConflict).where(
            SyncConflict.conversation_id == conversation_id,
            SyncConflict.field == "status",
            SyncConflict.status == "open",
        )
    )
    return list(rows)


def _context_notes(conv: Conversation, body: UpdateLeadStatusRequest) -> None:
    side = "domiq" if body.sync_direction == "to_resman" else "resman_relay"
    context = dict(conv.context or {})
    entry = dict(context.get(side) or {})
    if body.notes:
        entry["last_note"] = body.notes
    if body.next_follow_up:
        entry["next_follow_up"] = body.next_follow_up.isoformat()
    if body.custom_fields:
        entry["custom_fields"] = {**entry.get("custom_fields", {}), **body.custom_fields}
    if entry:
        context[side] = entry
        conv.context = context


async def change_status(
    session: AsyncSession, *, principal: Principal, lead_id: str, body: UpdateLeadStatusRequest
) -> StatusOutcome:
    conv, link = await find_lead(session, principal=principal, lead_id=lead_id)
    integration = await session.scalar(
        select(ResmanIntegration).where(ResmanIntegration.property_id == conv.property_id)
    )
    _context_notes(conv, body)
    if body.sync_direction == "to_resman":
        return await _to_resman(session, conv=conv, link=link, integration=integration, body=body)
    ours = fields_to_json(guard_fields(conversation_fields(conv)))
    base = dict(link.base) if link is not None and link.base else ours
    theirs = {**base, "status": body.status}
    if integration is None:
        raise DomainError(409, "No integration", "the lead's property has no ResMan integration")
    rules = rules_of(integration)
    result = merge(base=base, domiq=ours, resman=theirs, rules=rules, fields=["status"])
    applied = await apply_merge(
        session,
        conv=conv,
        link=link,
        integration_id=integration.id,
        change=WriteBack.of(result, base={**base, **base_before_push(result)}),
        direction="from_resman",
        changed_by=body.updated_by,
        resman_lead_id=link.resman_prospect_id if link else None,
    )
    return StatusOutcome(conv, link, applied.job_id, result.conflicts, result.resolved)


async def _to_resman(
    session: AsyncSession,
    *,
    conv: Conversation,
    link: LeadLink | None,
    integration: ResmanIntegration | None,
    body: UpdateLeadStatusRequest,
) -> StatusOutcome:
    old = conv.status
    conv.status = body.status
    record_status(session, conv=conv, old=old, source="domiq", changed_by=body.updated_by)
    await session.flush()
    job_id = None
    if old != body.status:
        await publish_lead(session, conv, event_type="status_change", source="domiq")
    spec: dict[str, object] | None = None
    if old != body.status:
        spec = {
            "kind": "status",
            "new": body.status,
            "previous": old,
            "comments": body.notes,
            "lost_reason": body.lost_reason,
        }
    elif body.notes:
        # The status stays, but the office must still read the note.
        spec = {"kind": "note", "comments": body.notes}
    if integration is not None and spec is not None:
        job_id = await enqueue_job(
            session,
            job=PushJob(
                sync_type="status_change",
                fields=fields_to_json(conversation_fields(conv)),
                events=(spec,),
            ),
            # Before routine updates: the office is waiting for this one.
            at=Placement(integration_id=integration.id, conversation_id=conv.id, priority=3),
        )
        await log_sync(
            session,
            conversation_id=conv.id,
            integration_id=integration.id,
            direction="to_resman",
            status="pending",
            sync_type="status_change",
            job_id=job_id,
        )
    return StatusOutcome(conv, link, job_id, [], [])
