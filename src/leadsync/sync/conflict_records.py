"""Conflicts our side records: open conflicts parked for review while applying a merge,
automatic resolutions logged with their rule, possible duplicates, the decision a person
makes (:func:`decide_conflict`), and the ``sync_conflict`` event that tells subscribers.
Flushes, never commits.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, SyncConflict
from leadsync.db.rows import load_for_change
from leadsync.db.types import utcnow
from leadsync.events import Source, publish
from leadsync.mapping.from_resman import prospect_fields
from leadsync.mapping.lead import LeadFields
from leadsync.merge import FieldOutcome, MergeResult
from leadsync.resman.models import Prospect
from leadsync.sync.records import conversation_fields
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


async def announce_conflict(
    session: AsyncSession,
    *,
    property_id: uuid.UUID,
    conversation_id: uuid.UUID,
    source: Source,
    **data: Any,
) -> None:
    """The ``sync_conflict`` event: a conflict was parked, refreshed or decided."""
    await publish(
        session,
        property_id=property_id,
        event_type="sync_conflict",
        source=source,
        data={"conversation_id": str(conversation_id), **data},
    )


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
    await announce_conflict(
        session,
        property_id=conv.property_id,
        conversation_id=conv.id,
        source="domiq",
        resman_lead_id=prospect_id,
        **details,
    )
    await session.flush()
    return True


async def close_merged_duplicate(
    session: AsyncSession, *, conflict: SyncConflict, merged_into: str, by: str
) -> None:
    """A ``duplicate_lead`` conflict the merge API answered: both records are one person,
    in ResMan prospect ``merged_into``."""
    await decide_conflict(
        session,
        conflict=conflict,
        conv=await load_for_change(session, Conversation, conflict.conversation_id),
        status="resolved",
        resolution="merged",
        by=by,
        value={"merged_into": merged_into},
        resman_lead_id=merged_into,
        details={"type": conflict.conflict_type, "merged_into": merged_into},
    )


async def decide_conflict(
    session: AsyncSession,
    *,
    conflict: SyncConflict,
    conv: Conversation | None,
    status: str,
    resolution: str,
    by: str,
    value: Any = None,
    resman_lead_id: str | None = None,
    details: dict[str, Any],
) -> None:
    """Close the conflict as a person decided, log it and tell the subscribers."""
    conflict.status = status
    conflict.resolution = resolution
    conflict.resolved_value = value
    conflict.resolved_by = by
    conflict.resolved_at = utcnow()
    if conv is not None:
        await announce_conflict(
            session,
            property_id=conv.property_id,
            conversation_id=conv.id,
            source="domiq",
            conflict_id=str(conflict.id),
            field=conflict.field,
            conflict_type=conflict.conflict_type,
            status=status,
            resolved_value=value,
        )
    await log_sync(
        session,
        conversation_id=conflict.conversation_id,
        integration_id=conflict.integration_id,
        direction="bidirectional",
        status="success",
        sync_type="status_change" if conflict.field == "status" else "update",
        resman_lead_id=resman_lead_id,
        conflict_resolution="manual_review",
        details={"field": conflict.field, "conflict": str(conflict.id), **details},
    )
    await session.flush()
