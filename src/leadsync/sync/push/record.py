"""Push, write phase: store the link and its base snapshot, and apply what the merge of an
update (or of a returning prospect's link) brought back, through the one write-back."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink
from leadsync.db.rows import load_for_change
from leadsync.events import publish_lead
from leadsync.sync.conflict_records import record_duplicate
from leadsync.sync.push.plan import PushPlan, plan_push
from leadsync.sync.push.send import PushResult, SentPush, send_push
from leadsync.sync.queue.jobs import (
    UPDATE_PRIORITY,
    Placement,
    PushJob,
    RefreshJob,
    enqueue_job,
    read_job,
)
from leadsync.sync.queue.repository import ClaimedJob
from leadsync.sync.queue.targets import ResManTarget
from leadsync.sync.writeback import WriteBack, apply_merge, store_base


async def record_push(
    session: AsyncSession,
    *,
    plan: PushPlan,
    sent: SentPush,
    integration_id: uuid.UUID,
) -> None:
    """Link and base snapshot, plus what the merge brought back (office changes for the
    conversation, conflicts). Flushes, never commits."""
    link = await session.scalar(
        select(LeadLink).where(LeadLink.conversation_id == plan.conversation_id)
    )
    # The conversation is read before a new link is added: reading it after would flush
    # the link half-made (INSERT), and storing its base would then cost an UPDATE as well.
    conv = await load_for_change(session, Conversation, plan.conversation_id)
    if link is None:
        link = LeadLink(conversation_id=plan.conversation_id, integration_id=integration_id)
        session.add(link)
    prospect_id = sent.result.prospect_id
    link.resman_prospect_id = prospect_id
    link.resman_person_id = sent.result.person_id
    if conv is None:
        store_base(link, new_base=sent.new_base, resman_modified_at=None)
        await session.flush()
        return
    to_domiq = sent.to_domiq
    if to_domiq is None and sent.merge is not None:
        to_domiq = dict(sent.merge.to_domiq)
    applied = await apply_merge(
        session,
        conv=conv,
        link=link,
        integration_id=integration_id,
        # ResMan's side was just sent: nothing to queue.
        change=WriteBack(to_domiq=to_domiq or {}, push=(), base=sent.new_base, merge=sent.merge),
        direction="to_resman",
        changed_by="resman",
        resman_lead_id=prospect_id,
    )
    if not applied.changed and sent.result.action in ("created", "linked"):
        # Subscribers learn the ResMan id of a new lead.
        await publish_lead(
            session, conv, event_type="lead_update", source="domiq", resman_lead_id=prospect_id
        )
    if sent.possible_duplicate is not None:
        await record_duplicate(
            session,
            conv=conv,
            integration_id=integration_id,
            prospect_id=prospect_id,
            other=sent.possible_duplicate,
        )
    if sent.result.action == "linked":
        # Every conversation of the person shows ResMan's state: a refresh applies the
        # prospect (as it now is) to all its links, this new one included.
        await enqueue_job(
            session,
            job=RefreshJob(prospect_id=prospect_id),
            at=Placement(
                integration_id=integration_id,
                conversation_id=conv.id,
                priority=UPDATE_PRIORITY,
                resman_lead_id=prospect_id,
            ),
        )
    await session.flush()


async def push_lead(
    session: AsyncSession, *, job: ClaimedJob, target: ResManTarget, now: datetime | None = None
) -> PushResult:
    """All three phases in the caller's session (for callers that own the boundary)."""
    payload = read_job(job.sync_operation, job.sync_data)
    if not isinstance(payload, PushJob):
        raise ValueError(f"not a push job: {job.sync_operation}")
    plan = await plan_push(
        session,
        conversation_id=job.conversation_id,
        integration_id=job.integration_id,
        job=payload,
    )
    sent = await send_push(plan=plan, target=target, now=now)
    await record_push(session, plan=plan, sent=sent, integration_id=target.integration_id)
    return sent.result
