"""POST /api/resman/leads/merge: link a ResMan prospect and a DomIQ conversation that are
the same person (e.g. a walk-in who also chatted), merging the chosen fields.

The field-by-field rules are :func:`leadsync.merge.merge_records` (named fields merged by the
strategy, explicit values on both sides, fields not named held apart). The merged state goes
to whichever side needs it: the conversation now, ResMan through the push queue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.api.problems import ProblemError
from leadsync.db.models import Conversation, LeadLink, ResmanIntegration
from leadsync.leads.convert import conversation_fields
from leadsync.leads.status_schemas import MergeLeadsRequest, MergeSummary
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.to_resman import guard_fields
from leadsync.merge import Strategy, merge_records
from leadsync.realtime.events import publish_lead
from leadsync.resman.models import Prospect
from leadsync.sync.inbound import enqueue_push_of
from leadsync.sync.reconcile import (
    base_before_push,
    record_conflicts,
    store_base,
    write_domiq,
)
from leadsync.sync.synclog import log_sync


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    prospect_id: str
    conflicts_resolved: int
    summary: MergeSummary
    sync_log_id: uuid.UUID


async def load_for_merge(
    session: AsyncSession, *, principal: Principal, conversation_id: uuid.UUID
) -> tuple[Conversation, ResmanIntegration]:
    conv = await session.get(Conversation, conversation_id)
    if conv is None or conv.property_id not in principal.property_ids:
        raise ProblemError(
            404,
            "Unknown lead",
            f"no conversation {conversation_id} for this API key",
            errors=[{"field": "domiq_conversation_id", "message": "unknown conversation"}],
        )
    integration = await session.scalar(
        select(ResmanIntegration).where(ResmanIntegration.property_id == conv.property_id)
    )
    if integration is None:
        raise ProblemError(409, "No integration", "the lead's property has no ResMan integration")
    return conv, integration


async def _take_link(
    session: AsyncSession, *, conv: Conversation, integration_id: uuid.UUID, prospect_id: str
) -> LeadLink:
    own = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conv.id))
    if own is not None and own.resman_prospect_id not in (None, prospect_id):
        raise ProblemError(
            409,
            "Already linked",
            "the conversation is linked to another ResMan prospect",
            errors=[{"field": "domiq_conversation_id", "message": "linked elsewhere"}],
        )
    other = await session.scalar(
        select(LeadLink).where(
            LeadLink.integration_id == integration_id,
            LeadLink.resman_prospect_id == prospect_id,
            LeadLink.conversation_id != conv.id,
        )
    )
    if other is not None:
        # The prospect was stored as its own lead (a pull of a walk-in): that record is the
        # same person, so it is retired in favour of the conversation, not kept twice.
        retired = await session.get(Conversation, other.conversation_id)
        if retired is not None:
            retired.context = {**(retired.context or {}), "merged_into": str(conv.id)}
        await session.delete(other)
        await session.flush()
    if own is None:
        own = LeadLink(conversation_id=conv.id, integration_id=integration_id, base={})
        session.add(own)
    own.resman_prospect_id = prospect_id
    return own


async def merge_leads(
    session: AsyncSession,
    *,
    principal: Principal,
    body: MergeLeadsRequest,
    prospect: Prospect,
) -> MergeOutcome:
    conv, integration = await load_for_merge(
        session, principal=principal, conversation_id=body.domiq_conversation_id
    )
    prospect_id = prospect.prospect_id or body.resman_lead_id
    link = await _take_link(
        session, conv=conv, integration_id=integration.id, prospect_id=prospect_id
    )
    link.resman_person_id = prospect.person_id
    explicit = body.conflict_resolution.snapshot() if body.conflict_resolution else {}
    chosen = set(body.merge_fields) | set(explicit)
    merged = merge_records(
        domiq=fields_to_json(guard_fields(conversation_fields(conv))),
        resman=fields_to_json(prospect_fields(prospect)),
        chosen=chosen,
        explicit=explicit,
        strategy=Strategy(body.merge_strategy),
    )
    result = merged.result
    await write_domiq(session, conv=conv, changes=merged.to_domiq, changed_by="merge")
    await record_conflicts(
        session,
        conversation_id=conv.id,
        integration_id=integration.id,
        result=result,
        resman_lead_id=prospect_id,
        direction="bidirectional",
    )
    store_base(link, new_base=base_before_push(result), resman_modified_at=None)
    if result.to_resman:
        await enqueue_push_of(
            session,
            conv=conv,
            integration_id=integration.id,
            values=fields_to_json(conversation_fields(conv)),
            only=sorted(result.to_resman),
        )
    await publish_lead(
        session, conv, event_type="lead_update", source="domiq", resman_lead_id=prospect_id
    )
    row = await log_sync(
        session,
        conversation_id=conv.id,
        integration_id=integration.id,
        direction="bidirectional",
        status="conflict" if merged.fields_conflicted else "success",
        sync_type="update",
        resman_lead_id=prospect_id,
        conflict_resolution=body.merge_strategy,
        details={"merge_fields": sorted(chosen), "conflicted": merged.fields_conflicted},
    )
    await session.flush()
    return MergeOutcome(
        prospect_id=prospect_id,
        conflicts_resolved=merged.conflicts_resolved,
        summary=MergeSummary(
            fields_merged=list(merged.final_values),
            fields_conflicted=merged.fields_conflicted,
            final_values=merged.final_values,
        ),
        sync_log_id=row.id,
    )
