"""One linked conversation takes ResMan's state: the three-way merge against its own base,
ResMan's context for the chatbot, the write-back, and the repair of an office type a late
post of ours overwrote. Also the outcome every apply reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, ResmanIntegration
from leadsync.db.rows import load_for_change
from leadsync.events import publish_lead
from leadsync.mapping.from_resman import office_activity
from leadsync.mapping.lead import fields_to_json
from leadsync.mapping.observed import observed_status, remember_signature, status_signature
from leadsync.mapping.to_resman import guard_fields
from leadsync.merge import MergeResult, MergeRules, merge
from leadsync.resman.models import CustomerType, Prospect
from leadsync.sync.records import conversation_fields
from leadsync.sync.synclog import log_sync
from leadsync.sync.writeback import WriteBack, apply_merge, base_before_push, enqueue_update
from leadsync.telemetry import metrics


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    conversation_id: uuid.UUID | None
    #: created | updated | unchanged | ignored
    action: str
    conflicts_open: int = 0
    conflicts_resolved: int = 0
    pushed: bool = False


def rules_of(integration: ResmanIntegration) -> MergeRules:
    return MergeRules.from_settings(integration.conflict_strategy, integration.sync_settings or {})


async def apply_link(
    session: AsyncSession,
    *,
    integration: ResmanIntegration,
    link: LeadLink,
    prospect: Prospect,
    theirs: dict[str, Any],
    context: dict[str, Any],
    source: str,
    modified_at: datetime | None,
    digest: str,
    resman_type: CustomerType,
) -> ApplyOutcome:
    """ResMan's state merged into one linked conversation."""
    prospect_id = link.resman_prospect_id
    if (
        modified_at is not None
        and link.resman_modified_at is not None
        and modified_at < link.resman_modified_at
    ):
        # An older state than the one we hold: it must not overwrite a newer one.
        return ApplyOutcome(link.conversation_id, "ignored")
    conv = await load_for_change(session, Conversation, link.conversation_id)
    if conv is None:
        return ApplyOutcome(None, "ignored")
    result, new_base = _merge(
        conv=conv, link=link, prospect=prospect, theirs=theirs, rules=rules_of(integration)
    )
    context_news = _store_context(conv, context)
    base_changed = link.base != new_base
    if context_news and not result.to_domiq:
        # ResMan's context (events, agent) changed alone: subscribers still hear of it.
        await publish_lead(
            session, conv, event_type="lead_update", source="resman", resman_lead_id=prospect_id
        )
    applied = await apply_merge(
        session,
        conv=conv,
        link=link,
        integration_id=integration.id,
        change=WriteBack.of(result, base=new_base),
        direction="from_resman",
        changed_by=source,
        resman_lead_id=prospect_id,
        resman_modified_at=modified_at,
        resman_fingerprint=digest,
    )
    repair = await _restore_office_type(
        session,
        integration=integration,
        conv=conv,
        held=prospect.lead.customer_type != resman_type,
        queued=applied.job_id,
    )
    changed = applied.changed or context_news or base_changed
    metrics.applied_from_resman(session, source=source, changed_at=modified_at, changed=changed)
    if applied.changed:
        await _log_applied(
            session,
            conv=conv,
            integration_id=integration.id,
            prospect_id=prospect_id,
            source=source,
            fields=result.to_domiq,
        )
    await session.flush()
    return ApplyOutcome(
        conv.id,
        "updated" if changed or applied.conflicts else "unchanged",
        conflicts_open=applied.conflicts,
        conflicts_resolved=len(result.resolved),
        pushed=applied.job_id is not None or repair is not None,
    )


async def _restore_office_type(
    session: AsyncSession,
    *,
    integration: ResmanIntegration,
    conv: Conversation,
    held: bool,
    queued: uuid.UUID | None,
) -> uuid.UUID | None:
    """A push that puts the office's Customer@Type back where a late post of ours overwrote
    it (``held``, see :func:`~leadsync.mapping.observed.office_view`): ResMan's events still
    say application or lease, its type says prospect. The push re-reads ResMan and posts the
    office's type."""
    if queued is not None or not held or integration.sync_direction == "from_resman":
        return queued
    return await enqueue_update(session, conv=conv, integration_id=integration.id)


def _merge(
    *,
    conv: Conversation,
    link: LeadLink,
    prospect: Prospect,
    theirs: dict[str, Any],
    rules: MergeRules,
) -> tuple[MergeResult, dict[str, Any]]:
    """The three-way merge of one link (pure) and the base it leaves behind."""
    ours = fields_to_json(guard_fields(conversation_fields(conv)))
    # Each link has its own base, so the observed status is per link (a copy, not shared).
    theirs = {**theirs, "status": observed_status(prospect, link.base)}
    result = merge(base=link.base or theirs, domiq=ours, resman=theirs, rules=rules)
    new_base = remember_signature(
        base_before_push(result),
        signature=status_signature(prospect),
        settled=result.outcome("status").settled,
        old_base=link.base,
    )
    return result, new_base


def _store_context(conv: Conversation, context: dict[str, Any]) -> bool:
    """Store ResMan's context on the conversation; whether that is news. The first context
    of a lead we pushed is stored, but it is news (an "updated" lead in the pull's summary,
    an event for subscribers) only when the office already did something with it: otherwise
    it is our own create coming back."""
    full_context = dict(conv.context or {})
    previous = full_context.get("resman")
    if previous == context:
        return False
    full_context["resman"] = context
    conv.context = full_context
    return previous is not None or office_activity(context)


async def _log_applied(
    session: AsyncSession,
    *,
    conv: Conversation,
    integration_id: uuid.UUID,
    prospect_id: str | None,
    source: str,
    fields: dict[str, Any],
) -> None:
    await log_sync(
        session,
        conversation_id=conv.id,
        integration_id=integration_id,
        direction="from_resman",
        status="success",
        sync_type="status_change" if "status" in fields else "update",
        resman_lead_id=prospect_id,
        details={"source": source, "fields": sorted(fields)},
    )
