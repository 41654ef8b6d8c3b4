"""What follows a committed lead change, for HTTP and WebSocket alike: the first push attempt
(so the answer usually carries ResMan's id), then the lead's sync state."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from leadsync.db.session import read_session
from leadsync.leads import service
from leadsync.sync.queue.flags import cached_push_paused, push_paused

if TYPE_CHECKING:
    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime


async def first_attempt(rt: Runtime, job_id: uuid.UUID | None) -> None:
    """Try the push now and wait briefly, so the answer usually carries ResMan's id.

    At most ``push_inline_limit`` attempts run at once (sync/inline.py): beyond that, and
    whenever the wait runs out, the client is told ``pending`` and the worker finishes the
    job (an attempt still running completes in the background; its lease protects it).
    """
    if job_id is None:
        return
    paused = cached_push_paused()  # read at most once a second: no transaction per request
    if paused is None:
        async with read_session(rt.sessionmaker) as session:
            paused = await push_paused(session)
    if paused:
        return
    task = rt.inline.start(job_id)
    if task is None or not await rt.inline.wait(task, within=rt.settings.push_wait_seconds):
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
