"""Queue a conversation's transcript job, one per burst of messages (see
sync/push/transcript.py for what the job does).

A new message joins the conversation's transcript job while that job has not formed its
batch yet; otherwise it starts a new one, due one batch window later. The join is an
``UPDATE … WHERE state = 'queued'`` (and no batch): on PostgreSQL it locks the job row
until the message commits (a claim skips locked rows, so the batch cannot form without the
message); SQLite has one writer, so the same holds by construction.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import ChatMessage, LeadSyncQueue
from leadsync.db.types import utcnow
from leadsync.sync.queue.jobs import Placement, TranscriptJob, enqueue_job

#: The queue key prefix of transcript jobs (monitoring leaves their batch window out of lag).
TRANSCRIPT_KEY_PREFIX = "transcript:"
#: Below routine updates: a transcript is context, a status change is news.
TRANSCRIPT_PRIORITY = 1


def transcript_key(conversation_id: uuid.UUID) -> str:
    """Transcript jobs run in order among themselves, apart from the lead's pushes: a batch
    waiting for its window must not hold back a status change behind it."""
    return f"{TRANSCRIPT_KEY_PREFIX}{conversation_id}"


async def queue_transcript(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    conversation_id: uuid.UUID,
    window_seconds: float,
    summary: bool = False,
) -> uuid.UUID:
    """The transcript job that will carry the conversation's new messages (joined or new),
    in the caller's transaction."""
    job = TranscriptJob(window_seconds=window_seconds, summary=summary)
    q = LeadSyncQueue
    waiting = (
        q.lead_key == transcript_key(conversation_id),
        q.state == "queued",
        # Not once its batch is formed: a retry posts exactly the lines it took.
        ~exists().where(ChatMessage.batch_id == q.id),
    )
    joined = await session.scalar(
        update(q)
        .where(*waiting)
        .values(updated_at=utcnow())
        .returning(q.id)
        .execution_options(synchronize_session=False)
    )
    if joined is not None:
        if summary:
            # The summary flag only ever turns on (a joined job may already carry it).
            await session.execute(
                update(q)
                .where(q.id == joined)
                .values(sync_data=job.to_data())
                .execution_options(synchronize_session=False)
            )
        return joined
    return await enqueue_job(
        session,
        job=job,
        at=Placement(
            integration_id=integration_id,
            conversation_id=conversation_id,
            priority=TRANSCRIPT_PRIORITY,
            lead_key=transcript_key(conversation_id),
        ),
        due_at=utcnow() + timedelta(seconds=window_seconds),
    )


async def transcript_waiting(session: AsyncSession, *, conversation_id: uuid.UUID) -> bool:
    """A transcript job of the conversation is queued (not yet running)."""
    q = LeadSyncQueue
    return bool(
        await session.scalar(
            select(
                exists().where(q.lead_key == transcript_key(conversation_id), q.state == "queued")
            )
        )
    )
