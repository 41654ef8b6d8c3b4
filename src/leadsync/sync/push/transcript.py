"""Push a conversation's chat messages to ResMan as transcript events (issue 11).

Three phases like every push (read/write -> ResMan with no transaction open -> write):

- :func:`plan_transcript` forms the job's batch: the conversation's messages no batch has
  taken yet are stamped with the job's id BEFORE any call, so every retry of the job posts
  the very same lines, split into the very same parts;
- :func:`send_transcript` reads the prospect and posts only the parts ResMan does not hold
  yet (each part's header is its marker): an attempt that timed out after ResMan stored it
  is not posted twice;
- :func:`record_transcript` marks the batch's messages pushed, in the transaction that marks
  the job succeeded (a crash before it leaves both undone; the retry finds the parts held).

The integration's ``sync_settings["transcript"]`` (full | prospect_only | summary_only)
chooses which lines go; withheld lines are settled with their batch and never sent later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import ChatMessage, Conversation, LeadLink, ResmanIntegration
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.to_resman import ProspectIds, lead_to_prospect
from leadsync.mapping.transcript import (
    DEFAULT_TRANSCRIPT_MODE,
    ChatLine,
    TranscriptPart,
    holds,
    shown,
    summary_event,
    summary_part,
    transcript_event,
    transcript_parts,
)
from leadsync.resman.errors import BusinessError
from leadsync.sync.queue.jobs import TranscriptJob
from leadsync.sync.queue.targets import ResManTarget
from leadsync.sync.queue.transcripts import queue_transcript, transcript_waiting

#: The most messages one batch carries; a longer backlog continues in a follow-up job.
MAX_BATCH_MESSAGES = 200
#: How often a batch of a lead not in ResMan yet looks again (at least; else its window).
WAIT_FOR_LINK_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class TranscriptPlan:
    conversation_id: uuid.UUID
    ids: ProspectIds
    #: The batch's transcript parts, then the summary note (if the job carries one).
    parts: tuple[TranscriptPart, ...]
    #: Every message of the batch (withheld ones too): marked pushed on success.
    message_count: int
    mode: str


@dataclass(frozen=True, slots=True)
class SentTranscript:
    posted: int
    #: Parts ResMan already held (an earlier attempt that got through).
    held: int

    def details(self, plan: TranscriptPlan) -> dict[str, Any]:
        """The sync log's details (counts only: a transcript is never logged)."""
        return {
            "action": "transcript",
            "messages": plan.message_count,
            "posted": self.posted,
            "held": self.held,
            "mode": plan.mode,
        }


def transcript_mode(integration: ResmanIntegration | None) -> str:
    settings = (integration.sync_settings if integration is not None else None) or {}
    return str(settings.get("transcript") or DEFAULT_TRANSCRIPT_MODE)


async def _batch(
    session: AsyncSession, *, job_id: uuid.UUID, conversation_id: uuid.UUID
) -> list[ChatMessage]:
    mine = select(ChatMessage).where(ChatMessage.batch_id == job_id)
    if not await session.scalar(select(exists(mine))):
        # First attempt: take the messages no batch has taken, oldest first.
        free = (
            select(ChatMessage.id)
            .where(
                ChatMessage.conversation_id == conversation_id,
                ChatMessage.batch_id.is_(None),
            )
            .order_by(ChatMessage.sent_at, ChatMessage.created_at)
            .limit(MAX_BATCH_MESSAGES)
        )
        taken = list((await session.scalars(free)).all())
        if taken:
            await session.execute(
                update(ChatMessage).where(ChatMessage.id.in_(taken)).values(batch_id=job_id)
            )
    rows = await session.scalars(mine.order_by(ChatMessage.sent_at, ChatMessage.created_at))
    return list(rows.all())


async def plan_transcript(
    session: AsyncSession,
    *,
    job_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    integration_id: uuid.UUID,
    job: TranscriptJob,
    now: datetime,
) -> TranscriptPlan | None:
    """The batch to send (in the caller's write transaction); None while the conversation
    is not in ResMan yet (its create is still queued: the job waits for it)."""
    if conversation_id is None:
        raise ValueError("a transcript job needs a conversation")
    link = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conversation_id))
    if link is None or not link.resman_prospect_id:
        return None
    conv = await session.get(Conversation, conversation_id)
    if conv is None:
        raise ValueError("the conversation of the transcript is gone")
    mode = transcript_mode(await session.get(ResmanIntegration, integration_id))
    rows = await _batch(session, job_id=job_id, conversation_id=conversation_id)
    lines = [ChatLine(row.role, row.text, row.sent_at) for row in rows]
    ref, batch = conversation_id.hex[:8], job_id.hex[:8]
    parts = transcript_parts(shown(lines, mode=mode), ref=ref, batch=batch)
    if job.summary:
        parts.append(
            summary_part(
                ref=ref,
                batch=batch,
                summary=conv.transcript_summary,
                lead_score=conv.lead_score,
                at=rows[-1].sent_at if rows else now,
            )
        )
    ids = ProspectIds(link.resman_prospect_id, link.resman_person_id)
    return TranscriptPlan(conversation_id, ids, tuple(parts), len(rows), mode)


async def send_transcript(*, plan: TranscriptPlan, target: ResManTarget) -> SentTranscript:
    """Network phase, no database: post the parts ResMan does not hold yet, in one call."""
    if not plan.parts:
        return SentTranscript(posted=0, held=0)
    client, creds = target.client, target.creds
    found = await client.search_prospects(creds=creds, prospect_id=plan.ids.prospect_id)
    current = next((p for p in found if p.prospect_id == plan.ids.prospect_id), None)
    if current is None:
        raise BusinessError(
            "the linked prospect no longer exists in ResMan",
            method="MITS/SearchProspects",
            category="not_found",
            retryable=False,
        )
    source = target.require_source()
    missing = [part for part in plan.parts if not holds(current.events, part)]
    events = [
        summary_event(part, transaction_source=source)
        if part.header.startswith("DomIQ chat summary")
        else transcript_event(part, transaction_source=source)
        for part in missing
    ]
    if events:
        prospect = lead_to_prospect(
            LeadFields(), ids=plan.ids, events=events, customer_type=current.lead.customer_type
        )
        await client.post_lead(creds=creds, prospect=prospect)
    return SentTranscript(posted=len(missing), held=len(plan.parts) - len(missing))


async def record_transcript(
    session: AsyncSession,
    *,
    job_id: uuid.UUID,
    plan: TranscriptPlan,
    integration_id: uuid.UUID,
    now: datetime,
) -> None:
    """The batch is in ResMan: mark its messages (in the job's success transaction), and
    queue the next batch when messages are still waiting (a long backlog, or a message
    that arrived while this batch was being sent)."""
    await session.execute(
        update(ChatMessage).where(ChatMessage.batch_id == job_id).values(pushed_at=now)
    )
    waiting = await session.scalar(
        select(func.count())
        .select_from(ChatMessage)
        .where(
            ChatMessage.conversation_id == plan.conversation_id,
            ChatMessage.batch_id.is_(None),
        )
    )
    if waiting and not await transcript_waiting(session, conversation_id=plan.conversation_id):
        await queue_transcript(
            session,
            integration_id=integration_id,
            conversation_id=plan.conversation_id,
            window_seconds=0.0,
        )
