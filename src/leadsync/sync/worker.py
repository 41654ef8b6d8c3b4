"""The worker loop: claim due jobs in batches and run them concurrently.

Per-lead order needs no coordination here: the claim never hands out a job while an
earlier job of the same lead is queued or running. Any number of these loops, in any
number of processes, can share one PostgreSQL queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.session import read_session
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.repository import ClaimedJob
from leadsync.sync.runner import JobRunner, Outcome
from leadsync.telemetry import metrics
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

PauseCheck = Callable[[AsyncSession], Awaitable[bool]]


class Worker:
    def __init__(
        self,
        *,
        runner: JobRunner,
        sessionmaker: async_sessionmaker[AsyncSession],
        batch_size: int = 32,
        concurrency: int = 64,
        idle_interval: float = 0.25,
        is_paused: PauseCheck | None = None,
    ) -> None:
        self.runner = runner
        self.sessionmaker = sessionmaker
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.idle_interval = idle_interval
        self._is_paused = is_paused
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()

    def wake(self) -> None:
        """Something was enqueued: look now instead of at the next idle tick."""
        self._wake.set()

    async def _paused(self) -> bool:
        if self._is_paused is None:
            return False
        async with read_session(self.sessionmaker) as session:
            return await self._is_paused(session)

    async def run_once(self) -> int:
        """Claim and start one batch; returns how many jobs were started."""
        free = self.concurrency - len(self._tasks)
        if free <= 0 or await self._paused():
            return 0
        async with self.sessionmaker() as session, session.begin():
            jobs = await queue.claim(
                session,
                worker_id=self.runner.worker_id,
                limit=min(self.batch_size, free),
                lease=self.runner.lease,
            )
        for job in jobs:
            task: asyncio.Task[object] = asyncio.create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return len(jobs)

    async def _run(self, job: ClaimedJob) -> Outcome:
        outcome = await self.runner.run(job)
        metrics.job_settled(job, outcome, inline=False)
        return outcome

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The runner settles every failure of the job itself; what escapes it failed
            # the settling (the database went away mid-write, say). The job stays claimed
            # and is taken over when its lease runs out, so nothing is lost: say so here
            # rather than leave asyncio to report "Task exception was never retrieved".
            log.error(
                "job run failed before it was settled; its lease hands it over",
                error_type=type(error).__name__,
                exc_info=error,
            )
        # A finished job may unblock the next job of the same lead: look again at once.
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", worker_id=self.runner.worker_id)
        while not stop.is_set():
            try:
                started = await self.run_once()
            except Exception:
                # A database hiccup must not kill the loop; the jobs stay in the queue.
                log.exception("claim failed; retrying")
                started = 0
            if started:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED),
                    timeout=self.idle_interval,
                )
            for waiter in waiters:
                waiter.cancel()
        await self.drain()
        log.info("worker stopped", worker_id=self.runner.worker_id)

    async def drain(self) -> None:
        """Let in-flight jobs finish (bounded by the ResMan client's own timeouts; a job cut
        short by a hard kill is handed over when its lease expires)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))
