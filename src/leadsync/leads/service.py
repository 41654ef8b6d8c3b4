"""Accept chatbot leads and their updates: store, enqueue and log in ONE transaction.

The transactional outbox: the conversation, its push job and the ``pending`` sync-log row
are flushed together and committed by the request boundary, so an accepted lead can never
be lost between our database and ResMan. Services flush; they never commit.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.db.models import (
    Contact,
    Conversation,
    IdempotencyKey,
    LeadLink,
    LeadSyncLog,
    LeadSyncQueue,
    Property,
    ResmanIntegration,
    TourBooking,
)
from leadsync.db.rows import load_for_change
from leadsync.db.types import utcnow
from leadsync.errors import DomainError
from leadsync.events import publish_lead
from leadsync.leads.convert import apply_lead_data, apply_update, conversation_narrative
from leadsync.leads.schemas import (
    CreateLeadRequest,
    SyncStatus,
    TourRequest,
    UpdateLeadRequest,
)
from leadsync.mapping.lead import fields_to_json, narrative_to_json
from leadsync.sync.queue.jobs import (
    CREATE_PRIORITY,
    UPDATE_PRIORITY,
    Placement,
    PushJob,
    enqueue_job,
)
from leadsync.sync.queue.transcripts import queue_transcript, transcript_key
from leadsync.sync.records import conversation_fields, record_status
from leadsync.sync.synclog import log_sync


@dataclass(frozen=True, slots=True)
class AcceptedLead:
    conversation_id: uuid.UUID
    created_at: datetime
    sync_log_id: uuid.UUID
    #: The job to attempt right away, if this request enqueued one.
    job_id: uuid.UUID | None
    created: bool


@dataclass(frozen=True, slots=True)
class LeadSyncState:
    resman_lead_id: str | None
    sync_status: SyncStatus


def request_hash(body: CreateLeadRequest) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _integration_for(
    session: AsyncSession, property_id: uuid.UUID
) -> ResmanIntegration | None:
    return await session.scalar(
        select(ResmanIntegration).where(ResmanIntegration.property_id == property_id)
    )


async def _enqueue_push(
    session: AsyncSession,
    *,
    conv: Conversation,
    sync_type: str,
    events: list[dict[str, Any]],
    narrative: bool,
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The job and its pending log row; no job (only the log row) without an integration."""
    integration = await _integration_for(session, conv.property_id)
    push = PushJob(
        sync_type=sync_type,
        fields=fields_to_json(conversation_fields(conv)),
        events=tuple(events),
        narrative=narrative_to_json(conversation_narrative(conv)) if narrative else None,
    )
    job_id = None
    if integration is not None:
        priority = CREATE_PRIORITY if sync_type == "create" else UPDATE_PRIORITY
        job_id = await enqueue_job(
            session,
            job=push,
            at=Placement(integration_id=integration.id, conversation_id=conv.id, priority=priority),
        )
    row = await log_sync(
        session,
        conversation_id=conv.id,
        integration_id=integration.id if integration else None,
        direction="to_resman",
        status="pending",
        sync_type=sync_type,
        job_id=job_id,
        details=None if integration else {"reason": "no ResMan integration for the property"},
    )
    return row.id, job_id


async def _property(session: AsyncSession, property_id: uuid.UUID, *, field: str) -> Property:
    prop = await session.get(Property, property_id)
    if prop is None:
        raise DomainError(
            404,
            "Unknown property",
            f"property {property_id} does not exist",
            errors=[{"field": field, "message": "unknown property"}],
        )
    return prop


async def accept_lead(
    session: AsyncSession,
    *,
    principal: Principal,
    body: CreateLeadRequest,
    idempotency_key: str | None = None,
) -> AcceptedLead:
    data = body.lead_data
    principal.require(data.property_id, field="lead_data.property_id")
    await _property(session, data.property_id, field="lead_data.property_id")
    digest = request_hash(body)
    if idempotency_key:
        seen = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.key == idempotency_key,
                IdempotencyKey.property_id == data.property_id,
            )
        )
        if seen is not None:
            if seen.request_hash != digest:
                raise DomainError(
                    422,
                    "Idempotency-Key reused",
                    "this Idempotency-Key was used with a different request body",
                    errors=[{"field": "Idempotency-Key", "message": "reused with another body"}],
                )
            return await _existing(session, conversation_id=seen.conversation_id)
    conv = await load_for_change(session, Conversation, body.conversation_id)
    if conv is not None and conv.property_id != data.property_id:
        raise DomainError(
            409,
            "Conversation conflict",
            "conversation_id is already registered for another property",
            errors=[{"field": "conversation_id", "message": "belongs to another property"}],
        )
    created = conv is None
    if conv is None:
        contact = Contact(
            email=data.email,
            phone=data.phone,
            first_name=data.first_name,
            last_name=data.last_name,
        )
        session.add(contact)
        await session.flush()
        conv = Conversation(
            id=body.conversation_id,
            property_id=data.property_id,
            contact_id=contact.id,
            status="new",
            source="chatbot",
            context={},
        )
        session.add(conv)
        apply_lead_data(conv, data)
        await session.flush()
        record_status(session, conv=conv, old=None, source="domiq", changed_by="chatbot")
        log_id, job_id = await _enqueue_push(
            session, conv=conv, sync_type="create", events=[], narrative=True
        )
        await publish_lead(session, conv, event_type="new_lead", source="domiq")
    else:
        before = conversation_fields(conv)
        apply_lead_data(conv, data)
        await session.flush()
        if conversation_fields(conv) == before:
            # The same conversation posted again: the same lead, nothing new to push.
            return await _existing(session, conversation_id=conv.id)
        log_id, job_id = await _enqueue_push(
            session, conv=conv, sync_type="update", events=[], narrative=False
        )
        await publish_lead(session, conv, event_type="lead_update", source="domiq")
    if idempotency_key:
        session.add(
            IdempotencyKey(
                key=idempotency_key,
                property_id=data.property_id,
                request_hash=digest,
                conversation_id=conv.id,
            )
        )
        await session.flush()
    return AcceptedLead(conv.id, conv.created_at, log_id, job_id, created)


async def _existing(session: AsyncSession, *, conversation_id: uuid.UUID | None) -> AcceptedLead:
    conv = await session.get(Conversation, conversation_id) if conversation_id else None
    if conv is None:
        raise DomainError(404, "Unknown lead", "the lead of this request no longer exists")
    log_id = await session.scalar(
        select(LeadSyncLog.id)
        .where(LeadSyncLog.conversation_id == conv.id)
        .order_by(LeadSyncLog.created_at)
        .limit(1)
    )
    if log_id is None:
        raise DomainError(404, "Unknown lead", "the lead has no sync history")
    return AcceptedLead(conv.id, conv.created_at, log_id, None, False)


async def _owned_conversation(
    session: AsyncSession, *, principal: Principal, conversation_id: uuid.UUID
) -> Conversation:
    conv = await load_for_change(session, Conversation, conversation_id)
    # Same answer for "absent" and "another property's": a key must not learn what B holds.
    if conv is None or conv.property_id not in principal.property_ids:
        raise DomainError(404, "Unknown lead", f"no lead {conversation_id} for this API key")
    return conv


async def update_lead(
    session: AsyncSession,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    body: UpdateLeadRequest,
) -> AcceptedLead:
    conv = await _owned_conversation(session, principal=principal, conversation_id=conversation_id)
    before, score = conversation_fields(conv), conv.lead_score
    apply_update(conv, body)
    await session.flush()
    if conv.lead_score != score:
        await _score_note(session, conv)
    if conversation_fields(conv) == before:
        if conv.lead_score != score:
            # No field to push (the score went as a note), but subscribers see the change.
            await publish_lead(session, conv, event_type="lead_update", source="domiq")
        return await _existing(session, conversation_id=conv.id)
    log_id, job_id = await _enqueue_push(
        session, conv=conv, sync_type="update", events=[], narrative=False
    )
    await publish_lead(session, conv, event_type="lead_update", source="domiq")
    return AcceptedLead(conv.id, conv.created_at, log_id, job_id, False)


async def _score_note(session: AsyncSession, conv: Conversation) -> None:
    """ResMan has no score field: a changed score reaches the office as a note, carried by
    the conversation's transcript job (see sync/push/transcript.py)."""
    integration = await _integration_for(session, conv.property_id)
    if integration is not None:
        await queue_transcript(
            session,
            integration_id=integration.id,
            conversation_id=conv.id,
            window_seconds=0.0,
            summary=True,
        )


async def book_tour(
    session: AsyncSession, *, principal: Principal, conversation_id: uuid.UUID, body: TourRequest
) -> AcceptedLead:
    conv = await _owned_conversation(session, principal=principal, conversation_id=conversation_id)
    session.add(
        TourBooking(
            conversation_id=conv.id,
            tour_datetime=body.tour_datetime,
            duration_minutes=body.duration_minutes,
            tour_type=body.tour_type,
            unit_interest=body.unit_interest,
            notes=body.notes,
        )
    )
    old_status = conv.status
    conv.status = "tour_scheduled"
    record_status(session, conv=conv, old=old_status, source="domiq", changed_by="chatbot")
    conv.updated_at = utcnow()
    await session.flush()
    event = {
        "kind": "tour",
        "start": body.tour_datetime.isoformat(),
        "tour_type": body.tour_type,
        "unit": body.unit_interest,
        "notes": body.notes,
    }
    log_id, job_id = await _enqueue_push(
        session, conv=conv, sync_type="update", events=[event], narrative=False
    )
    await publish_lead(
        session, conv, event_type="status_change", source="domiq", extra={"tour": event}
    )
    return AcceptedLead(conv.id, conv.created_at, log_id, job_id, False)


async def sync_state(session: AsyncSession, *, conversation_id: uuid.UUID) -> LeadSyncState:
    """What the API reports: ResMan's id once linked, and how the newest push stands."""
    prospect_id = await session.scalar(
        select(LeadLink.resman_prospect_id).where(LeadLink.conversation_id == conversation_id)
    )
    # Pushes only: a refresh from ResMan queued behind them says nothing about our push.
    newest = await session.scalar(
        select(LeadSyncQueue.state)
        .where(
            LeadSyncQueue.conversation_id == conversation_id,
            LeadSyncQueue.sync_operation == "push",
            # A transcript batch waiting for its window says nothing about the lead's push.
            LeadSyncQueue.lead_key != transcript_key(conversation_id),
        )
        .order_by(LeadSyncQueue.seq.desc())
        .limit(1)
    )
    status: SyncStatus
    if newest is None:
        status = "success" if prospect_id else "disabled"
    elif newest == "succeeded":
        status = "success"
    elif newest == "dead":
        status = "failed"
    else:
        status = "pending"

    return LeadSyncState(resman_lead_id=prospect_id, sync_status=status)
