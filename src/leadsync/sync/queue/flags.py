"""The global kill switch (the spec's rollback feature flag).

While it is on, leads keep being stored and queued but nothing is pushed; turning it off
drains the queue in order. Kept in the database so every API and worker process sees the
same switch. The claim statement itself honours it (sync/queue/repository.py), so pausing
takes effect for every claim after `set_push_paused` commits; the one-second cache here only
lets the worker loop and the API skip a claim cheaply while paused.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import AppSetting
from leadsync.db.types import utcnow
from leadsync.sync.queue.claim_sql import KILL_SWITCH

__all__ = ["KILL_SWITCH", "cached_push_paused", "push_paused", "reset_cache", "set_push_paused"]
_CACHE_SECONDS = 1.0
_cache: tuple[float, bool] | None = None


def cached_push_paused() -> bool | None:
    """The switch as read within the last second, or None (then ask `push_paused`): a
    caller that would open a transaction only to ask need not open one."""
    if _cache is not None and time.monotonic() - _cache[0] < _CACHE_SECONDS:
        return _cache[1]
    return None


async def push_paused(session: AsyncSession) -> bool:
    global _cache
    if (cached := cached_push_paused()) is not None:
        return cached
    value = await session.scalar(select(AppSetting.value).where(AppSetting.key == KILL_SWITCH))
    paused = bool(value)
    _cache = (time.monotonic(), paused)
    return paused


async def set_push_paused(session: AsyncSession, *, paused: bool, changed_by: str) -> None:
    global _cache
    row = await session.get(AppSetting, KILL_SWITCH)
    if row is None:
        row = AppSetting(key=KILL_SWITCH)
        session.add(row)
    row.value = paused
    row.changed_by = changed_by
    row.updated_at = utcnow()
    await session.flush()
    _cache = None


def reset_cache() -> None:
    """Forget the cached switch (tests, and after changing it from another process)."""
    global _cache
    _cache = None
