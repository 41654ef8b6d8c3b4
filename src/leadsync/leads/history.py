"""A lead's merged timeline, newest first: chat messages, the office's updates (from the
ResMan context the pull and webhooks keep), status changes, tours and the sync log."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal
from leadsync.db.models import ChatMessage, Conversation, LeadSyncLog, StatusHistory, TourBooking
from leadsync.errors import DomainError
from leadsync.leads.chat_schemas import HistoryItem, HistoryPage


def _chat(rows: Iterable[ChatMessage]) -> list[HistoryItem]:
    return [
        HistoryItem(
            kind="chat_message",
            at=row.sent_at,
            data={
                "message_id": row.message_id,
                "role": row.role,
                "text": row.text,
                "in_resman": row.pushed_at is not None,
            },
        )
        for row in rows
    ]


def _office(context: dict[str, Any] | None) -> list[HistoryItem]:
    resman = (context or {}).get("resman") or {}
    notes = resman.get("conversation_updates") or resman.get("recent_notes") or []
    return [
        HistoryItem(
            kind="office_update",
            at=datetime.fromisoformat(note["date"]),
            data={k: note.get(k) for k in ("note", "event_type", "agent_name")},
        )
        for note in notes
        if note.get("date")
    ]


def _statuses(rows: Iterable[StatusHistory]) -> list[HistoryItem]:
    return [
        HistoryItem(
            kind="status_change",
            at=row.created_at,
            data={
                "old_status": row.old_status,
                "new_status": row.new_status,
                "source": row.source,
                "changed_by": row.changed_by,
            },
        )
        for row in rows
    ]


def _tours(rows: Iterable[TourBooking]) -> list[HistoryItem]:
    return [
        HistoryItem(
            kind="tour",
            at=row.created_at,
            data={
                "tour_datetime": row.tour_datetime.isoformat(),
                "tour_type": row.tour_type,
                "unit_interest": row.unit_interest,
                "status": row.status,
            },
        )
        for row in rows
    ]


def _syncs(rows: Iterable[LeadSyncLog]) -> list[HistoryItem]:
    return [
        HistoryItem(
            kind="sync",
            at=row.created_at,
            data={
                "direction": row.sync_direction,
                "status": row.sync_status,
                "sync_type": row.sync_type,
                "resman_lead_id": row.resman_lead_id,
                "error": row.error_message,
            },
        )
        for row in rows
    ]


async def lead_history(
    session: AsyncSession,
    *,
    principal: Principal,
    conversation_id: uuid.UUID,
    page: int,
    size: int,
) -> HistoryPage:
    """Page ``page`` (from 1) of ``size`` items of the merged timeline, newest first."""
    conv = await session.get(Conversation, conversation_id)
    # Same answer for "absent" and "another property's": a key must not learn what B holds.
    if conv is None or conv.property_id not in principal.property_ids:
        raise DomainError(404, "Unknown lead", f"no lead {conversation_id} for this API key")

    def of(model: Any, *order: Any) -> Any:
        return select(model).where(model.conversation_id == conv.id).order_by(*order, model.id)

    items = [
        *_chat(await session.scalars(of(ChatMessage, ChatMessage.sent_at, ChatMessage.created_at))),
        *_office(conv.context),
        *_statuses(await session.scalars(of(StatusHistory, StatusHistory.created_at))),
        *_tours(await session.scalars(of(TourBooking, TourBooking.created_at))),
        *_syncs(await session.scalars(of(LeadSyncLog, LeadSyncLog.created_at))),
    ]
    # Each source comes oldest first; a stable sort then a reversal puts the newest first,
    # things of the same instant too (two office notes of one second).
    items.sort(key=lambda item: item.at)
    items.reverse()
    start = (page - 1) * size
    return HistoryPage(
        conversation_id=conv.id,
        page=page,
        size=size,
        total=len(items),
        items=items[start : start + size],
    )
