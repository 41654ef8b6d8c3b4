"""The API's inline first push attempts, bounded.

A request that queued a push tries it at once and waits briefly, so the answer usually
carries ResMan's id. Under load those attempts must not pile up: beyond ``limit`` attempts in
flight the request answers ``pending`` at once and the worker takes the job (it is already
in the queue). Every attempt is a tracked task whose outcome is always retrieved, and the
process waits for the ones still running before it closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

Attempt = Callable[[uuid.UUID], Coroutine[Any, Any, object]]


class InlineAttempts:
    def __init__(self, *, attempt: Attempt, limit: int) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 or more")
        self._attempt = attempt
        self.limit = limit
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def start(self, job_id: uuid.UUID) -> asyncio.Task[object] | None:
        """The attempt's task, or None when ``limit`` attempts are already running."""
        if len(self._tasks) >= self.limit:
            return None
        task = asyncio.create_task(self._attempt(job_id))
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        # Retrieved here whether or not a request still waits on it: the runner settles
        # every job failure itself, so anything arriving here is a bug to see in the log.
        exc = task.exception()
        if exc is not None:
            log.error("inline push attempt failed", exc_info=exc)

    async def wait(self, task: asyncio.Task[object], *, within: float) -> bool:
        """Wait up to ``within`` seconds for ``task``; whether it finished. A request that
        stops waiting (or is cancelled) leaves the attempt running: its lease protects it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=within)
        return task.done()

    async def drain(self) -> None:
        """Let the attempts still running finish (bounded by the ResMan client's timeouts)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))
