"""Queries on the realtime event log (``realtime_event``): tail, replay, bounds, retention.

Reads use read-only transactions (on SQLite they never take the write lock); the purge
deletes in small chunks so that a writer never waits long behind it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.models import RealtimeEvent
from leadsync.db.session import read_session
from leadsync.realtime.protocol import event_text

_PURGE_CHUNK: Final = 5_000
_COLUMNS = (
    RealtimeEvent.sequence,
    RealtimeEvent.property_id,
    RealtimeEvent.event_type,
    RealtimeEvent.source,
    RealtimeEvent.data,
    RealtimeEvent.created_at,
)
_BOUNDS = select(func.min(RealtimeEvent.sequence), func.max(RealtimeEvent.sequence))

Sessions = async_sessionmaker[AsyncSession]


def message_text(row: Row[Any]) -> str:
    """A row as sent to subscribers."""
    return event_text(
        sequence=row.sequence,
        event_type=row.event_type,
        source=row.source,
        property_id=row.property_id,
        data=row.data,
        created_at=row.created_at,
    )


def must_resync(*, since: int, oldest: int | None, newest: int | None) -> bool:
    """Whether the events after ``since`` can no longer all be replayed from the log.

    Purged (``since`` is before the oldest retained event), or unknown (beyond the newest:
    the database was replaced; the purge always keeps the newest event, so an empty log
    with ``since`` > 0 means the same).
    """
    if newest is None or oldest is None:
        return since > 0
    return since > newest or since < oldest - 1


async def bounds(sessions: Sessions) -> tuple[int | None, int | None]:
    """The oldest and newest sequence in the log (None, None when it is empty)."""
    async with read_session(sessions) as session:
        oldest, newest = (await session.execute(_BOUNDS)).one()
    return oldest, newest


async def read_after(sessions: Sessions, *, after: int, limit: int) -> Sequence[Row[Any]]:
    """Every property's events past ``after``, in sequence order."""
    async with read_session(sessions) as session:
        result = await session.execute(
            select(*_COLUMNS)
            .where(RealtimeEvent.sequence > after)
            .order_by(RealtimeEvent.sequence)
            .limit(limit)
        )
        return result.all()


async def read_property(
    sessions: Sessions, property_id: uuid.UUID, *, after: int, upto: int, limit: int
) -> Sequence[Row[Any]]:
    """One property's events with ``after`` < sequence <= ``upto``, in sequence order."""
    async with read_session(sessions) as session:
        result = await session.execute(
            select(*_COLUMNS)
            .where(
                RealtimeEvent.property_id == property_id,
                RealtimeEvent.sequence > after,
                RealtimeEvent.sequence <= upto,
            )
            .order_by(RealtimeEvent.sequence)
            .limit(limit)
        )
        return result.all()


async def purge(sessions: Sessions, *, older_than: datetime, keep_last: int) -> int:
    """Delete events created before ``older_than`` and all but the newest ``keep_last``
    sequence numbers, always keeping the newest event; returns how many were deleted."""
    async with read_session(sessions) as session:
        oldest, newest = (await session.execute(_BOUNDS)).one()
        if newest is None:
            return 0
        # Sequence order is commit order closely enough to find the age boundary on the
        # primary key (created_at has no index of its own).
        fresh = await session.scalar(
            select(func.min(RealtimeEvent.sequence)).where(RealtimeEvent.created_at >= older_than)
        )
    by_count = newest - keep_last + 1
    boundary = min(newest, max(fresh if fresh is not None else newest, by_count))
    deleted = 0
    low = oldest
    while low < boundary:
        high = min(boundary, low + _PURGE_CHUNK)
        async with sessions() as session, session.begin():
            result = await session.execute(
                delete(RealtimeEvent).where(RealtimeEvent.sequence < high)
            )
            deleted += int(getattr(result, "rowcount", 0) or 0)
        low = high
    return deleted
