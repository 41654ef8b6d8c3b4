"""The worker loop: a job run that fails outside the runner's own settling (the database
gone mid-write) is reported and retrieved, never left to asyncio as "Task exception was
never retrieved", and the loop goes on; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from factories import make_conversation
from leadsync.db.models import LeadSyncQueue
from leadsync.sync.queue.jobs import Placement, RefreshJob, enqueue_job
from leadsync.sync.queue.repository import ClaimedJob
from leadsync.sync.runner import Outcome
from leadsync.sync.worker import Worker
from sync.sync_kit import Engine


async def _queued_refresh(engine_kit: Engine) -> None:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(
            session, property_id=engine_kit.property_id, first_name="Wanda"
        )
        await enqueue_job(
            session,
            job=RefreshJob(prospect_id="P-worker"),
            at=Placement(
                integration_id=engine_kit.integration_id, conversation_id=conv.id, priority=2
            ),
        )


async def test_a_run_that_fails_before_settling_is_reported_and_retrieved(
    engine_kit: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = engine_kit.runtime
    ran = asyncio.Event()

    async def settling_fails(job: ClaimedJob) -> Outcome:
        ran.set()
        raise ConnectionError("the database went away while the job was being settled")

    monkeypatch.setattr(runtime.runner, "run", settling_fails)
    await _queued_refresh(engine_kit)
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    worker = Worker(runner=runtime.runner, sessionmaker=runtime.sessionmaker, concurrency=4)
    stop = asyncio.Event()
    try:
        with capture_logs() as logs:
            loop_task = asyncio.create_task(worker.run(stop))
            await asyncio.wait_for(ran.wait(), timeout=60)  # generous: CI is a loaded box
            await worker.drain()
            assert not loop_task.done()  # the loop goes on
            stop.set()
            await loop_task
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert not [c for c in reported if "never retrieved" in str(c.get("message"))]
    failed = [e for e in logs if e["event"].startswith("job run failed before it was settled")]
    assert len(failed) == 1
    assert failed[0]["log_level"] == "error"
    assert failed[0]["error_type"] == "ConnectionError"
    # The job stays claimed: its lease hands it to the next worker (nothing is lost).
    async with runtime.sessionmaker() as session:
        state = await session.scalar(select(LeadSyncQueue.state))
    assert state == "running"
