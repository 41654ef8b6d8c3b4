"""POST /api/resman/leads/merge: link a ResMan prospect and a DomIQ conversation that are
the same person (e.g. a walk-in who also chatted), merging the chosen fields.

The field-by-field rules are :func:`leadsync.merge.merge_records` (named fields merged by the
strategy, explicit values on both sides, fields not named held apart). The merged state goes
to whichever side needs it: the conversation now, ResMan through the push queue.

When the conversation was already linked to its own prospect (a chatbot lead pushed before
the office noticed the walk-in), that prospect is surplus: the conversation is relinked, and
the surplus prospect is marked lost in ResMan (sync/push/retire.py), never deleted. Open
``duplicate_lead`` conflicts between the two records are resolved by the merge.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.db.models import Conversation, LeadLink, ResmanIntegration, SyncConflict
from leadsync.db.rows import load_for_change
from leadsync.errors import DomainError
from leadsync.events import publish_lead
from leadsync.leads.status_schemas import MergeLeadsRequest, MergeSummary
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.to_resman import guard_fields
from leadsync.merge import RecordMerge, Strategy, merge_records
from leadsync.resman.models import Prospect
from leadsync.sync.conflict_records import close_merged_duplicate
from leadsync.sync.push.retire import retire_prospect
from leadsync.sync.records import conversation_fields
from leadsync.sync.synclog import log_sync
from leadsync.sync.writeback import (
    WriteBack,
    apply_merge,
    base_before_push,
    store_base,
)


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    prospect_id: str
    conflicts_resolved: int
    summary: MergeSummary
    sync_log_id: uuid.UUID


async def load_for_merge(
    session: AsyncSession, *, principal: Principal, conversation_id: uuid.UUID
) -> tuple[Conversation, ResmanIntegration]:
    conv = await load_for_change(session, Conversation, conversation_id)
    if conv is None or conv.property_id not in principal.property_ids:
        raise DomainError(
            404,
            "Unknown lead",
            f"no conversation {conversation_id} for this API key",
            errors=[{"field": "domiq_conversation_id", "message": "unknown conversation"}],
        )
    integration = await session.scalar(
        select(ResmanIntegration).where(ResmanIntegration.property_id == conv.property_id)
    )
    if integration is None:
        raise DomainError(409, "No integration", "the lead's property has no ResMan integration")
    return conv, integration


@dataclass(frozen=True, slots=True)
class _Taken:
    link: LeadLink
    #: (ProspectID, PersonID) the conversation was linked to before: now surplus.
    surplus: tuple[str, str | None] | None


async def _take_link(
    session: AsyncSession, *, conv: Conversation, integration_id: uuid.UUID, prospect_id: str
) -> _Taken:
    own = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conv.id))
    surplus = None
    if own is not None and own.resman_prospect_id not in (None, prospect_id):
        surplus = (own.resman_prospect_id, own.resman_person_id)
    copies = await session.scalars(
        select(LeadLink)
        .join(Conversation, Conversation.id == LeadLink.conversation_id)
        .where(
            LeadLink.integration_id == integration_id,
            LeadLink.resman_prospect_id == prospect_id,
            LeadLink.conversation_id != conv.id,
            Conversation.source == "resman",
        )
    )
    for other in copies.all():
        # The prospect was stored as its own lead (a pull of a walk-in): that record is the
        # same person, so it is retired in favour of the conversation, not kept twice.
        # Chatbot conversations of the prospect stay linked: a person may chat many times.
        retired = await load_for_change(session, Conversation, other.conversation_id)
        if retired is not None:
            retired.context = {**(retired.context or {}), "merged_into": str(conv.id)}
        await session.delete(other)
    await session.flush()
    if own is None:
        own = LeadLink(conversation_id=conv.id, integration_id=integration_id, base={})
        session.add(own)
    if surplus is not None:
        own.resman_modified_at = None  # that was the surplus prospect's clock
    own.resman_prospect_id = prospect_id
    return _Taken(own, surplus)


async def _follow(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    surplus_id: str,
    prospect: Prospect,
    prospect_id: str,
) -> None:
    """Other conversations of the surplus prospect (the same person's earlier chats) move to
    the prospect too, each holding its own values apart (nothing merged without a person)."""
    others = await session.scalars(
        select(LeadLink).where(
            LeadLink.integration_id == integration_id, LeadLink.resman_prospect_id == surplus_id
        )
    )
    theirs = fields_to_json(prospect_fields(prospect))
    for link in others.all():
        other = await load_for_change(session, Conversation, link.conversation_id)
        if other is None:
            continue
        held = merge_records(
            domiq=fields_to_json(guard_fields(conversation_fields(other))),
            resman=theirs,
            chosen=(),
            explicit={},
            strategy=Strategy.MANUAL_REVIEW,
        )
        link.resman_prospect_id = prospect_id
        link.resman_person_id = prospect.person_id
        link.resman_modified_at = None
        store_base(link, new_base=held.result.new_base, resman_modified_at=None)


async def _settle_duplicates(
    session: AsyncSession, *, conversation_id: uuid.UUID, prospect_id: str
) -> int:
    """Open ``duplicate_lead`` conflicts this merge answers: the conversation was the
    possible duplicate of the prospect, or the prospect's lead was the possible duplicate of
    the conversation. Returns how many were resolved."""
    linked = select(LeadLink.conversation_id).where(LeadLink.resman_prospect_id == prospect_id)
    rows = await session.scalars(
        select(SyncConflict).where(
            SyncConflict.conflict_type == "duplicate_lead",
            SyncConflict.status == "open",
            or_(
                and_(
                    SyncConflict.conversation_id == conversation_id,
                    SyncConflict.other_prospect_id == prospect_id,
                ),
                and_(
                    SyncConflict.other_conversation_id == conversation_id,
                    SyncConflict.conversation_id.in_(linked),
                ),
            ),
        )
    )
    settled = rows.all()
    for row in settled:
        await close_merged_duplicate(session, conflict=row, merged_into=prospect_id, by="merge")
    return len(settled)


async def _apply(
    session: AsyncSession,
    *,
    conv: Conversation,
    link: LeadLink,
    integration_id: uuid.UUID,
    merged: RecordMerge,
    prospect_id: str,
) -> None:
    """The conversation takes its side now; ResMan's side goes through the push queue. The
    merge API announces the lead itself once the whole merge is done."""
    result = merged.result
    change = WriteBack(
        to_domiq=dict(merged.to_domiq),
        push=tuple(sorted(result.to_resman)),
        base=base_before_push(result),
        merge=result,
    )
    await apply_merge(
        session,
        conv=conv,
        link=link,
        integration_id=integration_id,
        change=change,
        direction="bidirectional",
        changed_by="merge",
        resman_lead_id=prospect_id,
        source="domiq",
        announce=False,
    )


async def _retire_surplus(
    session: AsyncSession,
    *,
    conv: Conversation,
    integration_id: uuid.UUID,
    surplus: tuple[str, str | None],
    prospect: Prospect,
    prospect_id: str,
) -> None:
    """The conversation's former prospect: its other conversations follow the person, and
    ResMan marks it lost (through the queue; never deleted)."""
    surplus_id, surplus_person = surplus
    await _follow(
        session,
        integration_id=integration_id,
        surplus_id=surplus_id,
        prospect=prospect,
        prospect_id=prospect_id,
    )
    await retire_prospect(
        session,
        integration_id=integration_id,
        conversation_id=conv.id,
        prospect_id=surplus_id,
        person_id=surplus_person,
        merged_into=prospect_id,
    )


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
    taken = await _take_link(
        session, conv=conv, integration_id=integration.id, prospect_id=prospect_id
    )
    link = taken.link
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
    await _apply(
        session,
        conv=conv,
        link=link,
        integration_id=integration.id,
        merged=merged,
        prospect_id=prospect_id,
    )
    if taken.surplus is not None:
        await _retire_surplus(
            session,
            conv=conv,
            integration_id=integration.id,
            surplus=taken.surplus,
            prospect=prospect,
            prospect_id=prospect_id,
        )
    duplicates = await _settle_duplicates(session, conversation_id=conv.id, prospect_id=prospect_id)
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
        details={
            "merge_fields": sorted(chosen),
            "conflicted": merged.fields_conflicted,
            "retired_prospect": taken.surplus[0] if taken.surplus else None,
        },
    )
    await session.flush()
    return MergeOutcome(
        prospect_id=prospect_id,
        conflicts_resolved=merged.conflicts_resolved + duplicates,
        summary=MergeSummary(
            fields_merged=list(merged.final_values),
            fields_conflicted=merged.fields_conflicted,
            final_values=merged.final_values,
        ),
        sync_log_id=row.id,
    )
