"""Conflicts parked by ``manual_review``: what a person sees and how a decision is applied.

A ``duplicate_lead`` conflict (a new lead sharing its phone with another prospect under a
clearly different name) shows both records side by side; a person merges them with the merge
API or dismisses it (they are different people). Only data conflicts are resolved here.

A resolution reaches both sides: the conversation gets the chosen value now, ResMan gets it
through the push queue, and the base snapshot records it as agreed so the same conflict does
not come back. Every resolution is logged with ``conflict_resolution='manual_review'``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, SyncConflict
from leadsync.db.rows import load_for_change
from leadsync.errors import DomainError
from leadsync.leads.field_values import InvalidValueError, validate_value
from leadsync.mapping.lead import fields_to_json
from leadsync.merge import agreed
from leadsync.sync.conflict_records import decide_conflict
from leadsync.sync.records import conversation_fields
from leadsync.sync.writeback import WriteBack, apply_merge, write_domiq


class ConflictError(DomainError):
    """A resolution that cannot be applied (unknown, already resolved, bad choice)."""

    def __init__(
        self, message: str, *, status: int = 400, field: str | None = None, reason: str = ""
    ) -> None:
        if field is None:
            super().__init__(status, "Conflict not resolvable", message)
        else:
            # The request field at fault (``value``), with why.
            errors = [{"field": field, "message": reason or message}]
            super().__init__(status, "Invalid request", message, errors=errors)


def describe(conflict: SyncConflict) -> dict[str, Any]:
    return {
        "id": str(conflict.id),
        "conversation_id": str(conflict.conversation_id),
        "integration_id": str(conflict.integration_id) if conflict.integration_id else None,
        "conflict_type": conflict.conflict_type,
        "field": conflict.field,
        "other_prospect_id": conflict.other_prospect_id,
        "other_conversation_id": (
            str(conflict.other_conversation_id) if conflict.other_conversation_id else None
        ),
        "base_value": conflict.base_value,
        "domiq_value": conflict.domiq_value,
        "resman_value": conflict.resman_value,
        "status": conflict.status,
        "resolution": conflict.resolution,
        "resolved_value": conflict.resolved_value,
        "resolved_by": conflict.resolved_by,
        "resolved_at": conflict.resolved_at.isoformat() if conflict.resolved_at else None,
        "created_at": conflict.created_at.isoformat(),
    }


async def list_conflicts(
    session: AsyncSession,
    *,
    status: str | None = "open",
    property_ids: Collection[uuid.UUID] | None = None,
    limit: int = 100,
) -> list[SyncConflict]:
    stmt = select(SyncConflict).order_by(SyncConflict.created_at).limit(limit)
    if status:
        stmt = stmt.where(SyncConflict.status == status)
    if property_ids is not None:
        stmt = stmt.join(Conversation, Conversation.id == SyncConflict.conversation_id).where(
            Conversation.property_id.in_(list(property_ids))
        )
    return list((await session.scalars(stmt)).all())


async def get_conflict(
    session: AsyncSession,
    *,
    conflict_id: uuid.UUID,
    property_ids: Collection[uuid.UUID] | None = None,
) -> SyncConflict:
    conflict = await session.get(SyncConflict, conflict_id)
    if conflict is not None and property_ids is not None:
        conv = await load_for_change(session, Conversation, conflict.conversation_id)
        if conv is None or conv.property_id not in property_ids:
            conflict = None
    if conflict is None:
        raise ConflictError(f"no conflict {conflict_id}", status=404)
    return conflict


_UNSET = object()


async def _open_conflict(
    session: AsyncSession, *, conflict_id: uuid.UUID, property_ids: Collection[uuid.UUID] | None
) -> SyncConflict:
    conflict = await get_conflict(session, conflict_id=conflict_id, property_ids=property_ids)
    if conflict.status != "open":
        raise ConflictError(f"conflict {conflict_id} is already {conflict.status}", status=409)
    return conflict


async def dismiss_conflict(
    session: AsyncSession,
    *,
    conflict_id: uuid.UUID,
    dismissed_by: str,
    property_ids: Collection[uuid.UUID] | None = None,
) -> SyncConflict:
    """Close a conflict without changing either side: for a possible duplicate, "these are
    two different people"; for a data conflict, the values stay as they are (a later change
    on both sides parks a new one)."""
    conflict = await _open_conflict(session, conflict_id=conflict_id, property_ids=property_ids)
    await decide_conflict(
        session,
        conflict=conflict,
        conv=await load_for_change(session, Conversation, conflict.conversation_id),
        status="dismissed",
        resolution="dismissed",
        by=dismissed_by,
        details={"type": conflict.conflict_type},
    )
    return conflict


async def resolve_conflict(
    session: AsyncSession,
    *,
    conflict_id: uuid.UUID,
    pick: str | None = None,
    value: Any = _UNSET,
    resolved_by: str,
    property_ids: Collection[uuid.UUID] | None = None,
) -> SyncConflict:
    """Pick a side (``pick`` = "resman" | "domiq") or give the final ``value``."""
    conflict = await _open_conflict(session, conflict_id=conflict_id, property_ids=property_ids)
    if conflict.conflict_type == "duplicate_lead":
        raise ConflictError(
            "a possible duplicate is merged with the merge API or dismissed, not resolved",
            status=409,
        )
    if (pick is None) == (value is _UNSET):
        raise ConflictError("give exactly one of: a side to pick, or a value")
    if pick is not None and pick not in ("resman", "domiq"):
        raise ConflictError("pick must be 'resman' or 'domiq'")
    if pick == "resman":
        final = conflict.resman_value
    elif pick == "domiq":
        final = conflict.domiq_value
    else:
        # Checked like the lead API: a value ResMan cannot hold (the overwrite guard keeps an
        # invalid email out of it) would leave the two sides different for good.
        try:
            final = validate_value(conflict.field, value)
        except InvalidValueError as exc:
            raise ConflictError(str(exc), status=422, field="value", reason=exc.message) from None
    conv = await load_for_change(session, Conversation, conflict.conversation_id)
    if conv is None:
        raise ConflictError("the conflict's lead no longer exists", status=404)
    link = await session.scalar(select(LeadLink).where(LeadLink.conversation_id == conv.id))
    current = fields_to_json(conversation_fields(conv))
    to_domiq = {conflict.field: final} if current.get(conflict.field) != final else {}
    if conflict.integration_id is None:  # the integration was removed: our side only
        await write_domiq(session, conv=conv, changes=to_domiq, changed_by=resolved_by)
    else:
        base = link.base if link is not None and link.base else {}
        await apply_merge(
            session,
            conv=conv,
            link=link,
            integration_id=conflict.integration_id,
            change=WriteBack(
                to_domiq=to_domiq,
                push=(conflict.field,) if final != conflict.resman_value else (),
                # The base becomes ResMan's current value: the chosen value then differs from
                # it on our side only, which the push carries over (equal if ResMan was picked).
                base=agreed(base, {conflict.field: conflict.resman_value}),
            ),
            direction="bidirectional",
            changed_by=resolved_by,
            resman_lead_id=link.resman_prospect_id if link else None,
            source="domiq",
        )
    await decide_conflict(
        session,
        conflict=conflict,
        conv=conv,
        status="resolved",
        resolution=pick or "custom",
        by=resolved_by,
        value=final,
        resman_lead_id=link.resman_prospect_id if link else None,
        details={"picked": pick or "value"},
    )
    return conflict
