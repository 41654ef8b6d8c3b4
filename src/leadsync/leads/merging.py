"""POST /api/resman/leads/merge: link a ResMan prospect and a DomIQ conversation that are
the same person (e.g. a walk-in who also chatted), merging the chosen fields.

Nothing was agreed between the two records before, so every field that differs is a true
conflict for the chosen strategy; explicit ``conflict_resolution`` values win over it.
Fields outside ``merge_fields`` are left alone on both sides. The merged state goes to
whichever side needs it (the conversation now, ResMan through the push queue).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.api.problems import ProblemError
from leadsync.db.models import Conversation, LeadLink, ResmanIntegration
from leadsync.leads.convert import conversation_fields
from leadsync.leads.status_schemas import MergeLeadsRequest, MergeSummary
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import SYNC_FIELDS, fields_to_json
from leadsync.mapping.to_resman import guard_fields
from leadsync.merge import FieldRule, MergeRules, Strategy, merge, normalize_value
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
    chosen = set(body.merge_fields)
    explicit = {
        k: normalize_value(k, v) for k, v in (body.conflict_resolution or {}).items() if k in chosen
    }
    ours = fields_to_json(guard_fields(conversation_fields(conv)))
    theirs = fields_to_json(prospect_fields(prospect))
    field_rules = {f: FieldRule.DONT_SYNC for f in SYNC_FIELDS if f not in chosen}
    for name, value in explicit.items():
        # An explicit final value is what both sides end up with, whatever the strategy.
        ours[name] = value
        field_rules[name] = FieldRule.ALWAYS_DOMIQ
    rules = MergeRules(
        strategy=Strategy(body.merge_strategy),
        field_rules=field_rules,
        status_by_priority=False,
    )
    result = merge(base={}, domiq=ours, resman=theirs, rules=rules)
    await write_domiq(session, conv=conv, changes=result.to_domiq, changed_by="merge")
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
            values=result.values,
            only=sorted(result.to_resman),
        )
    await publish_lead(
        session, conv, event_type="lead_update", source="domiq", resman_lead_id=prospect_id
    )
    fields_merged = [o.field for o in result.outcomes if o.field in chosen and o.settled]
    fields_conflicted = [o.field for o in result.conflicts]
    final: dict[str, Any] = {
        o.field: o.merged for o in result.outcomes if o.field in chosen and o.settled
    }
    resolved = len(result.resolved) + len(explicit)
    row = await log_sync(
        session,
        conversation_id=conv.id,
        integration_id=integration.id,
        direction="bidirectional",
        status="conflict" if fields_conflicted else "success",
        sync_type="update",
        resman_lead_id=prospect_id,
        conflict_resolution=body.merge_strategy,
        details={"merge_fields": sorted(chosen), "conflicted": fields_conflicted},
    )
    await session.flush()
    return MergeOutcome(
        prospect_id=prospect_id,
        conflicts_resolved=resolved,
        summary=MergeSummary(
            fields_merged=fields_merged, fields_conflicted=fields_conflicted, final_values=final
        ),
        sync_log_id=row.id,
    )
