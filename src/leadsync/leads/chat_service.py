"""Chat messages from DomIQ: store them (idempotent by message id) and queue their
transcript for ResMan, in the request's transaction (the outbox, like every lead change)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.db.models import ChatMessage, Conversation, ResmanIntegration
from leadsync.errors import DomainError
from leadsync.events import publish_lead
from leadsync.leads.chat_schemas import ChatMessageIn, ChatMessagesRequest
from leadsync.leads.service import _owned_conversation
from leadsync.sync.queue.transcripts import queue_transcript


@dataclass(frozen=True, slots=True)
class AcceptedMessages:
    conversation_id: uuid.UUID
    accepted: int
    duplicates: int
    job_id: uuid.UUID | None


def _same(row: ChatMessage, message: ChatMessageIn) -> bool:
    return row.role == message.role and row.text == message.text and row.sent_at == message.sent_at


async def _new_messages(
    session: AsyncSession, *, conversation_id: uuid.UUID, body: ChatMessagesRequest
) -> list[ChatMessageIn]:
    """The messages not stored yet; a stored id with other content is refused (409)."""
    ids = [m.id for m in body.messages]
    stored = {
        row.message_id: row
        for row in await session.scalars(
            select(ChatMessage).where(
                ChatMessage.conversation_id == conversation_id, ChatMessage.message_id.in_(ids)
            )
        )
    }
    fresh: list[ChatMessageIn] = []
    for index, message in enumerate(body.messages):
        row = stored.get(message.id)
        if row is None:
            fresh.append(message)
        elif not _same(row, message):
            raise DomainError(
                409,
                "Message id reused",
                f"message {message.id!r} is already stored with other content",
                errors=[{"field": f"messages.{index}.id", "message": "reused with other content"}],
            )
    return fresh


def _new_summary(conv: Conversation, body: ChatMessagesRequest) -> bool:
    """Write a changed summary or score onto the conversation; True when one changed."""
    changed = False
    if body.transcript_summary is not None and body.transcript_summary != conv.transcript_summary:
        conv.transcript_summary = body.transcript_summary
        changed = True
    if body.lead_score is not None and round(body.lead_score) != conv.lead_score:
        conv.lead_score = round(body.lead_score)
        changed = True
    return changed


async def accept_messages(
    session: AsyncSession,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    body: ChatMessagesRequest,
    window_seconds: float,
) -> AcceptedMessages:
    """Store new messages and queue (or join) the conversation's transcript job. Nothing
    is written when the request is refused."""
    conv = await _owned_conversation(session, principal=principal, conversation_id=conversation_id)
    fresh = await _new_messages(session, conversation_id=conv.id, body=body)
    session.add_all(
        ChatMessage(
            conversation_id=conv.id,
            message_id=m.id,
            role=m.role,
            text=m.text,
            sent_at=m.sent_at,
        )
        for m in fresh
    )
    summary = _new_summary(conv, body)
    await session.flush()
    if summary:
        await publish_lead(session, conv, event_type="lead_update", source="domiq")
    job_id = None
    integration = await session.scalar(
        select(ResmanIntegration).where(ResmanIntegration.property_id == conv.property_id)
    )
    if integration is not None and (fresh or summary):
        job_id = await queue_transcript(
            session,
            integration_id=integration.id,
            conversation_id=conv.id,
            window_seconds=window_seconds,
            summary=summary,
        )
    return AcceptedMessages(conv.id, len(fresh), len(body.messages) - len(fresh), job_id)
