"""Push, read phase: what one job will send, decided from our database alone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink
from leadsync.mapping.lead import LeadFields, fields_from_json
from leadsync.mapping.to_resman import ProspectIds
from leadsync.sync.push.dedupe import Sibling, earlier_create, linked_siblings, same_contact
from leadsync.sync.queue.jobs import PushJob
from leadsync.sync.records import conversation_fields


@dataclass(frozen=True, slots=True)
class PushPlan:
    """What one job will send, decided from our database alone (read phase)."""

    conversation_id: uuid.UUID
    #: Our values: the conversation as it is now. Pushing the current state (not the
    #: snapshot taken when the job was accepted) means a job that runs after later changes,
    #: a merge or a conflict resolution never writes an outdated value back.
    fields: LeadFields
    specs: tuple[dict[str, Any], ...]
    ids: ProspectIds | None
    base: dict[str, Any] | None
    narrative: dict[str, Any]
    #: Unlinked lead only: conversations of the property already linked that share its
    #: email or phone (a returning person, or a shared phone).
    siblings: tuple[Sibling, ...] = ()
    #: Unlinked lead only: a conversation of the same person whose create is in flight
    #: ahead of this one; the job waits for it instead of creating a second prospect.
    wait_for: uuid.UUID | None = None

    def sibling_of(self, prospect_id: str | None) -> Sibling | None:
        return next((s for s in self.siblings if s.prospect_id == prospect_id), None)


async def plan_push(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID | None,
    integration_id: uuid.UUID | None,
    job: PushJob,
    seq: int | None = None,
) -> PushPlan:
    """Read phase: what to send, from our database alone (no ResMan call). With the job's
    ``seq``, a create also checks that no earlier create of the same person is in flight
    (see :func:`~leadsync.sync.push.dedupe.earlier_create`)."""
    if conversation_id is None:
        raise ValueError("push job without a conversation")
    link = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conversation_id))
    ids = base = None
    if link is not None and link.resman_prospect_id:
        ids = ProspectIds(link.resman_prospect_id, link.resman_person_id)
        base = dict(link.base or {})
    conv = await session.get(Conversation, conversation_id)
    fields = conversation_fields(conv) if conv is not None else fields_from_json(job.fields)
    siblings: tuple[Sibling, ...] = ()
    wait_for = None
    if ids is None and integration_id is not None:
        contacts = await same_contact(session, conversation_id=conversation_id, fields=fields)
        siblings = await linked_siblings(session, integration_id=integration_id, contacts=contacts)
        if seq is not None:
            wait_for = await earlier_create(
                session, integration_id=integration_id, contacts=contacts, seq=seq
            )
    return PushPlan(
        conversation_id=conversation_id,
        fields=fields,
        specs=job.events,
        ids=ids,
        base=base,
        narrative=job.narrative or {},
        siblings=siblings,
        wait_for=wait_for,
    )
