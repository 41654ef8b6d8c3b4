"""What follows a committed lead change, for HTTP and WebSocket alike: the first push attempt
(so the answer usually carries ResMan's id), then the lead's sync state."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from leadsync.db.session import read_session
from leadsync.leads import service
from leadsync.runtime import Runtime
from leadsync.sync.flags import push_paused


async def first_attempt(rt: Runtime, job_id: uuid.UUID | None) -> None:
    """Try the push now and wait briefly, so the answer usually carries ResMan's id.

    The attempt runs as its own task: if the wait times out the push still completes in the
    background (its lease protects it), and the client is told ``pending``.
    """
    if job_id is None:
        return
    async with rt.sessionmaker() as session:
        if await push_paused(session):
            return
    task = asyncio.create_task(rt.runner.claim_and_run(job_id=job_id))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), timeout=rt.settings.push_wait_seconds)
    if not task.done():
        rt.worker.wake()


async def after_commit(
    rt: Runtime, *, conversation_id: uuid.UUID, job_id: uuid.UUID | None
) -> service.LeadSyncState:
    """Once a change is committed: the first push attempt (if it queued one), then the lead's
    sync state, read without taking SQLite's write lock. Shared by HTTP and WebSocket."""
    if job_id is not None:
        await first_attempt(rt, job_id)
    async with read_session(rt.sessionmaker) as session:
        return await service.sync_state(session, conversation_id=conversation_id)
