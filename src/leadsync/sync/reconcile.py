"""Write the outcome of a three-way merge to our side: conversation fields, status history,
conflicts awaiting review, the sync log, and the new base snapshot.

Shared by every path that merges (pull, webhook refresh, push of an update, the merge API),
so a conflict is recorded the same way whichever side noticed it. Flushes, never commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, StatusHistory, SyncConflict
from leadsync.db.types import utcnow
from leadsync.leads.convert import apply_fields, conversation_fields
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.observed import RESMAN_STATUS_KEY
from leadsync.merge import FieldOutcome, MergeResult, normalize_snapshot
from leadsync.realtime.events import publish
from leadsync.resman.models import Prospect
from leadsync.sync.synclog import log_sync

#: sync_conflict.field of a duplicate_lead conflict (the whole record, not one field).
DUPLICATE_FIELD = "duplicate_lead"

#: lead_sync_log.conflict_resolution allows the spec's three values; our finer-grained
#: resolutions are recorded in `details` and mapped to the side that won here.
_SPEC_RESOLUTIONS = {"resman_wins", "domiq_wins", "manual_review"}


def spec_resolution(outcome: FieldOutcome) -> str:
    if outcome.resolution in _SPEC_RESOLUTIONS:
        return str(outcome.resolution)
    return "resman_wins" if outcome.merged == outcome.resman else "domiq_wins"


async def write_domiq(
    session: AsyncSession,
    *,
    conv: Conversation,
    changes: dict[str, Any],
    changed_by: str,
) -> bool:
    """Apply merged values to the conversation; a status change gets a history row."""
    if not changes:
        return False
    old_status = conv.status
    apply_fields(conv, changes)
    if "status" in changes and conv.status != old_status:
        session.add(
            StatusHistory(
                conversation_id=conv.id,
                old_status=old_status,
                new_status=conv.status,
                source="resman",
                changed_by=changed_by,
            )
        )
    conv.updated_at = utcnow()
    await session.flush()
    return True


async def record_conflicts(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    integration_id: uuid.UUID,
    result: MergeResult,
    resman_lead_id: str | None,
    direction: str,
) -> int:
    """Park open conflicts (one open row per field, refreshed if it already exists) and log
    every automatic resolution with its rule. Returns how many conflicts are new or changed
    (an unchanged open conflict seen again is no news)."""
    news = 0
    for outcome in result.conflicts:
        existing = await session.scalar(
            select(SyncConflict).where(
                SyncConflict.conversation_id == conversation_id,
                SyncConflict.field == outcome.field,
                SyncConflict.status == "open",
            )
        )
        if existing is None:
            news += 1
            session.add(
                SyncConflict(
                    conversation_id=conversation_id,
                    integration_id=integration_id,
                    field=outcome.field,
                    conflict_type="status" if outcome.field == "status" else "data",
                    base_value=outcome.base,
                    domiq_value=outcome.domiq,
                    resman_value=outcome.resman,
                    status="open",
                )
            )
            await log_sync(
                session,
                conversation_id=conversation_id,
                integration_id=integration_id,
                direction=direction,
                status="conflict",
                sync_type="update",
                resman_lead_id=resman_lead_id,
                conflict_resolution="manual_review",
                details={"field": outcome.field, "rule": "manual_review"},
            )
        elif (existing.base_value, existing.domiq_value, existing.resman_value) != (
            outcome.base,
            outcome.domiq,
            outcome.resman,
        ):
            news += 1
            existing.base_value = outcome.base
            existing.domiq_value = outcome.domiq
            existing.resman_value = outcome.resman
    for outcome in result.resolved:
        await log_sync(
            session,
            conversation_id=conversation_id,
            integration_id=integration_id,
            direction=direction,
            status="success",
            sync_type="status_change" if outcome.field == "status" else "update",
            resman_lead_id=resman_lead_id,
            conflict_resolution=spec_resolution(outcome),
            details={"field": outcome.field, "rule": outcome.resolution},
        )
    await session.flush()
    return news


def store_base(
    link: LeadLink, *, new_base: dict[str, Any], resman_modified_at: datetime | None
) -> None:
    old = link.base or {}
    if (
        RESMAN_STATUS_KEY not in new_base
        and RESMAN_STATUS_KEY in old
        and new_base.get("status") == old.get("status")
    ):
        # A path that does not track ResMan's status signature (merge API, a resolved
        # conflict) keeps the remembered one while the agreed status stays (see
        # mapping.observed): without it, the next poll would revert a status ResMan cannot
        # hold.
        new_base = {**new_base, RESMAN_STATUS_KEY: old[RESMAN_STATUS_KEY]}
    # Canonical form (E.164, canonical decimals, sorted pets): a later comparison with a
    # merge's canonical output must not see a formatting difference as a change.
    link.base = normalize_snapshot(new_base, tuple(new_base))
    link.base_updated_at = utcnow()
    if resman_modified_at is not None and (
        link.resman_modified_at is None or resman_modified_at > link.resman_modified_at
    ):
        link.resman_modified_at = resman_modified_at


def base_before_push(result: MergeResult) -> dict[str, Any]:
    """The base to store when ``to_resman`` is left to a queued push: those fields keep
    ResMan's current value as their base, so the push still sees them as our changes (were
    they recorded as agreed already, the push would take ResMan's old value for new)."""
    base = dict(result.new_base)
    for name in result.to_resman:
        base[name] = result.outcome(name).resman
    return base


def _record(
    fields: LeadFields, *, prospect_id: str | None, conversation_id: uuid.UUID | None
) -> dict[str, Any]:
    """One side of a duplicate_lead conflict, shown to the person who decides."""
    return {
        "resman_prospect_id": prospect_id,
        "conversation_id": str(conversation_id) if conversation_id else None,
        "first_name": fields.first_name,
        "last_name": fields.last_name,
        "email": fields.email,
        "phone": fields.phone,
    }


async def record_duplicate(
    session: AsyncSession,
    *,
    conv: Conversation,
    integration_id: uuid.UUID,
    prospect_id: str,
    other: Prospect,
) -> bool:
    """Park a possible duplicate: ``conv`` (its own prospect ``prospect_id``) shares its phone
    with ``other`` under a clearly different name. A person merges the two (merge API) or
    dismisses the conflict. Once per lead while open (a retried push finds it). Logs ids only."""
    open_one = await session.scalar(
        select(SyncConflict.id).where(
            SyncConflict.conversation_id == conv.id,
            SyncConflict.field == DUPLICATE_FIELD,
            SyncConflict.status == "open",
        )
    )
    if open_one is not None:
        return False
    other_conversation = await session.scalar(
        select(LeadLink.conversation_id)
        .where(
            LeadLink.integration_id == integration_id,
            LeadLink.resman_prospect_id == other.prospect_id,
        )
        .order_by(LeadLink.created_at)
        .limit(1)
    )
    session.add(
        SyncConflict(
            conversation_id=conv.id,
            integration_id=integration_id,
            field=DUPLICATE_FIELD,
            conflict_type="duplicate_lead",
            other_prospect_id=other.prospect_id,
            other_conversation_id=other_conversation,
            domiq_value=_record(
                conversation_fields(conv), prospect_id=prospect_id, conversation_id=conv.id
            ),
            resman_value=_record(
                prospect_fields(other),
                prospect_id=other.prospect_id,
                conversation_id=other_conversation,
            ),
            status="open",
        )
    )
    details = {"conflict": "duplicate_lead", "other_prospect_id": other.prospect_id}
    await log_sync(
        session,
        conversation_id=conv.id,
        integration_id=integration_id,
        direction="to_resman",
        status="conflict",
        sync_type="create",
        resman_lead_id=prospect_id,
        conflict_resolution="manual_review",
        details=details,
    )
    await publish(
        session,
        property_id=conv.property_id,
        event_type="sync_conflict",
        source="domiq",
        data={"conversation_id": str(conv.id), "resman_lead_id": prospect_id, **details},
    )
    await session.flush()
    return True
