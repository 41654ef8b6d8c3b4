"""A ResMan prospect that a merge made surplus (the same person pushed twice, say a walk-in
and a chatbot lead) is marked lost with a clear reason, never deleted: ResMan keeps its
history, the office sees why, and its person lives on in the prospect it was merged into.

The mark is a MITS post (Customer Type=lost and a Cancel event) sent through the queue (a
:class:`~leadsync.sync.queue.jobs.RetireJob`), so an outage delays it and never loses it.
We also remember the prospect as retired, so a later pull or webhook does not store it as
a new lead.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import RetiredProspect
from leadsync.db.types import utcnow
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.status import LeadStatus
from leadsync.mapping.to_resman import ProspectIds, lead_to_prospect, status_events
from leadsync.sync.queue.jobs import UPDATE_PRIORITY, Placement, RetireJob, enqueue_job
from leadsync.sync.queue.targets import ResManTarget


def retire_reason(merged_into: str) -> str:
    return f"Duplicate of {merged_into} (merged by leadsync)"


async def retire_prospect(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    conversation_id: uuid.UUID,
    prospect_id: str,
    person_id: str | None,
    merged_into: str,
) -> uuid.UUID:
    """Remember the prospect as retired and queue its lost mark (ordered after the lead's
    own jobs: same lead key). Flushes, never commits."""
    retired = await session.scalar(
        select(RetiredProspect).where(
            RetiredProspect.integration_id == integration_id,
            RetiredProspect.resman_prospect_id == prospect_id,
        )
    )
    if retired is None:
        retired = RetiredProspect(integration_id=integration_id, resman_prospect_id=prospect_id)
        session.add(retired)
    retired.merged_into = merged_into
    retired.conversation_id = conversation_id
    return await enqueue_job(
        session,
        job=RetireJob(prospect_id=prospect_id, person_id=person_id, merged_into=merged_into),
        at=Placement(
            integration_id=integration_id,
            conversation_id=conversation_id,
            priority=UPDATE_PRIORITY,
        ),
    )


def _duplicate_reason(reasons: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The property's own "duplicate" lost reason when it has one, else its first (generic)
    reason; our text goes in the event's comments either way."""
    for name, reason in reasons.items():
        if "duplicate" in name:
            return reason
    return next(iter(reasons.values()), None)


async def send_retire(*, job: RetireJob, target: ResManTarget, now: datetime | None = None) -> str:
    """Network phase, no database: post the lost mark; returns the retired ProspectID."""
    mapped = status_events(
        new_status=LeadStatus.LOST,
        previous_status=None,
        at=now or utcnow(),
        transaction_source=target.require_source(),
        lost_reason=_duplicate_reason(target.lost_reasons),
        comments=retire_reason(job.merged_into),
    )
    if mapped is None:
        raise ValueError("the status mapping cannot express 'lost'")
    customer_type, events = mapped
    # No contact fields: an omitted element leaves ResMan's value as it is.
    prospect = lead_to_prospect(
        LeadFields(status=LeadStatus.LOST.value),
        ids=ProspectIds(job.prospect_id, job.person_id),
        events=events,
        customer_type=customer_type,
    )
    await target.client.post_lead(creds=target.creds, prospect=prospect)
    return job.prospect_id
