"""Run as a process: leadsync's queue with no-op jobs on one database.

``python -m bench.queue_noop JOBS CONCURRENCY`` (database from LEADSYNC_DATABASE_URL, schema
migrated): enqueues JOBS jobs of distinct leads, then runs the real `Worker` loop (batched
claims, ``concurrency`` jobs at once) whose job body only marks the job succeeded. Prints
``{"jobs": n, "seconds": s}``: the seconds from the worker's start to the last job settled.
Exits non-zero when anything was logged as an error: a run whose jobs fail is no measurement
(a runner returning no outcome once made every job log a traceback, at 0.08x procrastinate).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.admin.integrations import add_integration
from leadsync.config import Settings
from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.migrate import upgrade
from leadsync.security.crypto import load_keys
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.repository import ClaimedJob
from leadsync.sync.queue.settle import Outcome
from leadsync.sync.worker import Worker
from leadsync.telemetry.logging import configure_logging


class ErrorCount(logging.Handler):
    """Counts the records logged at ERROR or above."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class NoopRunner:
    """The part of `JobRunner` the worker uses; the job itself does nothing."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, total: int) -> None:
        self.sessionmaker = sessionmaker
        self.worker_id = f"bench-{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=60)
        self.total = total
        self.done = asyncio.Event()
        self._settled = 0

    async def run(self, job: ClaimedJob) -> Outcome:
        async with self.sessionmaker() as session, session.begin():
            await queue.mark_succeeded(
                session, job_id=job.id, worker_id=self.worker_id, resman_lead_id=None
            )
        self._settled += 1
        if self._settled >= self.total:
            self.done.set()
        return Outcome(job.id, "succeeded")


async def main(jobs: int, concurrency: int) -> dict[str, float]:
    settings = Settings()
    await asyncio.to_thread(upgrade, url=settings.effective_database_url)
    engine = create_engine_for(settings.effective_database_url, pool_size=concurrency)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        integration = await add_integration(
            session, keys=load_keys(settings=settings), property_id=uuid.uuid4(),
            resman_base_url="http://127.0.0.1:9", account_id=1,
            resman_property_id=str(uuid.uuid4()), partner_id="bench", api_key="bench",
            webhook_secret=None,
        )  # fmt: skip
    for start in range(0, jobs, 500):
        async with sessionmaker() as session, session.begin():
            for i in range(start, min(jobs, start + 500)):
                await queue.enqueue(
                    session, integration_id=integration.id, conversation_id=None,
                    lead_key=f"noop-{i}", operation="merge", data={},
                )  # fmt: skip
    runner = NoopRunner(sessionmaker, total=jobs)
    worker = Worker(runner=runner, sessionmaker=sessionmaker, concurrency=concurrency)  # type: ignore[arg-type]
    stop = asyncio.Event()
    started = time.monotonic()
    loop = asyncio.create_task(worker.run(stop))
    await runner.done.wait()
    seconds = time.monotonic() - started
    stop.set()
    await loop
    await engine.dispose()
    return {"jobs": jobs, "seconds": seconds}


if __name__ == "__main__":
    configure_logging(level="WARNING", fmt="json")
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    result = asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
    if errors.count:
        sys.exit(f"{errors.count} error(s) logged during the run: not a measurement")
    print(json.dumps(result))
