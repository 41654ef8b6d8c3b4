"""The reads behind the pull API: the integrations a key may pull, and leads (with their
ResMan link) by id or by contact."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, LeadLink, ResmanIntegration

_CHUNK = 500  # ids per IN (...) list: far below every driver's parameter limit

#: A lead and its link to a ResMan prospect (None before its first push or pull).
LeadRow = tuple[Conversation, LeadLink | None]


def _with_links() -> Any:
    return select(Conversation, LeadLink).outerjoin(
        LeadLink, LeadLink.conversation_id == Conversation.id
    )


async def pulling_integrations(
    session: AsyncSession, *, property_ids: Collection[uuid.UUID]
) -> list[ResmanIntegration]:
    """The enabled integrations of these properties that pull, by property id."""
    rows = await session.scalars(
        select(ResmanIntegration)
        .where(
            ResmanIntegration.property_id.in_(list(property_ids)),
            ResmanIntegration.sync_enabled.is_(True),
            ResmanIntegration.sync_direction != "to_resman",
        )
        .order_by(ResmanIntegration.property_id)
    )
    return list(rows)


async def with_status(
    session: AsyncSession, *, ids: Sequence[uuid.UUID], statuses: frozenset[str] | None
) -> list[uuid.UUID]:
    """``ids`` (in order) whose lead has one of ``statuses`` (all of them for None)."""
    if statuses is None:
        return list(ids)
    keep: set[uuid.UUID] = set()
    for at in range(0, len(ids), _CHUNK):
        rows = await session.scalars(
            select(Conversation.id).where(
                Conversation.id.in_(ids[at : at + _CHUNK]), Conversation.status.in_(statuses)
            )
        )
        keep.update(rows)
    return [i for i in ids if i in keep]


async def leads_by_id(session: AsyncSession, *, ids: Sequence[uuid.UUID]) -> list[LeadRow]:
    """The leads of ``ids`` that exist, in the order of ``ids``."""
    rows = (await session.execute(_with_links().where(Conversation.id.in_(ids)))).all()
    by_id: dict[uuid.UUID, LeadRow] = {conv.id: (conv, link) for conv, link in rows}
    return [by_id[i] for i in ids if i in by_id]


async def lead_by_id(session: AsyncSession, *, conversation_id: uuid.UUID) -> LeadRow | None:
    row = (await session.execute(_with_links().where(Conversation.id == conversation_id))).first()
    return None if row is None else (row[0], row[1])


async def leads_by_contact(
    session: AsyncSession,
    *,
    property_ids: Collection[uuid.UUID],
    contact: Mapping[str, str],
    limit: int,
) -> list[LeadRow]:
    """Leads of these properties whose ``email`` or ``phone`` (the keys of ``contact``, values
    already normalised) matches any one given; newest change first."""
    clauses = [getattr(Conversation, name) == value for name, value in contact.items()]
    rows = (
        await session.execute(
            _with_links()
            .where(Conversation.property_id.in_(list(property_ids)), or_(*clauses))
            .order_by(Conversation.updated_at.desc(), Conversation.id)
            .limit(limit)
        )
    ).all()
    return [(conv, link) for conv, link in rows]
