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
from leadsync.api.problems import ProblemError
from leadsync.db.models import Conversation, LeadLink, ResmanIntegration, StatusHistory
from leadsync.db.rows import load_for_change
from leadsync.leads.convert import conversation_fields
from leadsync.leads.status_schemas import UpdateLeadStatusRequest
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.to_resman import guard_fields
from leadsync.merge import FieldOutcome, merge
from leadsync.realtime.events import publish_lead
from leadsync.sync import queue
from leadsync.sync.inbound import enqueue_push_of, rules_of
from leadsync.sync.reconcile import (
    base_before_push,
    record_conflicts,
    store_base,
    write_domiq,
)
from leadsync.sync.synclog import log_sync


@dataclass(frozen=True, slots=True)
class StatusChange:
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
        raise ProblemError(404, "Unknown lead", f"no lead {lead_id} for this API key")
    link = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conv.id))
    return conv, link


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
) -> StatusChange:
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
    rules = rules_of(integration) if integration is not None else None
    if rules is None:
        raise ProblemError(409, "No integration", "the lead's property has no ResMan integration")
    result = merge(base=base, domiq=ours, resman=theirs, rules=rules, fields=["status"])
    if await write_domiq(session, conv=conv, changes=result.to_domiq, changed_by=body.updated_by):
        await publish_lead(session, conv, event_type="status_change", source="resman")
    job_id = None
    if integration is not None:
        await record_conflicts(
            session,
            conversation_id=conv.id,
            integration_id=integration.id,
            result=result,
            resman_lead_id=link.resman_prospect_id if link else None,
            direction="from_resman",
        )
        if link is not None:
            store_base(link, new_base={**base, **base_before_push(result)}, resman_modified_at=None)
        if result.to_resman and link is not None:
            job_id = await enqueue_push_of(
                session,
                conv=conv,
                integration_id=integration.id,
                values=fields_to_json(conversation_fields(conv)),
                only=["status"],
            )
    await session.flush()
    return StatusChange(conv, link, job_id, result.conflicts, result.resolved)


async def _to_resman(
    session: AsyncSession,
    *,
    conv: Conversation,
    link: LeadLink | None,
    integration: ResmanIntegration | None,
    body: UpdateLeadStatusRequest,
) -> StatusChange:
    old = conv.status
    if old != body.status:
        conv.status = body.status
        session.add(
            StatusHistory(
                conversation_id=conv.id,
                old_status=old,
                new_status=body.status,
                source="domiq",
                changed_by=body.updated_by,
            )
        )
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
        job = await queue.enqueue(
            session,
            integration_id=integration.id,
            conversation_id=conv.id,
            lead_key=str(conv.id),
            operation="push",
            data={
                "sync_type": "status_change",
                "fields": fields_to_json(conversation_fields(conv)),
                "only": ["status"],
                "events": [spec],
            },
            priority=3,
        )
        job_id = job.id
        await log_sync(
            session,
            conversation_id=conv.id,
            integration_id=integration.id,
            direction="to_resman",
            status="pending",
            sync_type="status_change",
            job_id=job_id,
        )
    return StatusChange(conv, link, job_id, [], [])
