"""One tick of the pull scheduler (``poll_once``), without the HTTP API or its timer: it
pulls every integration that is due, and only those, from the bundled sandbox through the
real ResMan client; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from leadsync.db.models import Conversation, LeadLink, ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.sync.pull.scheduler import FULL_REREAD_SECONDS, QUICK_OVERLAP_SECONDS, PullScheduler
from sync.sync_kit import Engine


async def _pulled_prospects(engine_kit: Engine, integration_id: uuid.UUID) -> set[str | None]:
    async with engine_kit.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(LeadLink.resman_prospect_id).where(LeadLink.integration_id == integration_id)
        )
        return set(rows)


async def test_one_tick_pulls_every_due_integration_and_only_those(engine_kit: Engine) -> None:
    push_only = await engine_kit.connect(sync_direction="to_resman")
    resting = await engine_kit.connect()
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        row = await session.get_one(ResmanIntegration, resting)
        row.circuit_open_until = utcnow() + timedelta(hours=1)  # its breaker is open
    now = utcnow()
    await engine_kit.office_leads(
        count=3, start=now - timedelta(minutes=2), end=now - timedelta(seconds=5)
    )
    scheduler = engine_kit.runtime.scheduler

    results = await scheduler.poll_once()

    assert [(r.integration_id, r.outcome) for r in results] == [
        (engine_kit.integration_id, "pulled")
    ]
    summary = results[0].summary
    assert summary is not None
    assert (summary.new_leads, summary.failed_window) == (3, None)
    assert len(await _pulled_prospects(engine_kit, engine_kit.integration_id)) == 3
    async with engine_kit.runtime.sessionmaker() as session:
        stored = set(await session.scalars(select(Conversation.property_id)))
    assert stored == {engine_kit.property_id}
    for skipped in (push_only, resting):
        assert await _pulled_prospects(engine_kit, skipped) == set()

    # The next tick continues from the cursor: nothing new to store.
    again = await scheduler.poll_once()
    assert [(r.integration_id, r.outcome) for r in again] == [(engine_kit.integration_id, "pulled")]
    assert again[0].summary is not None
    assert again[0].summary.new_leads == 0


async def test_scheduled_polls_reread_the_whole_overlap_only_now_and_then(
    engine_kit: Engine,
) -> None:
    # A poll re-reads QUICK_OVERLAP_SECONDS before the cursor; the integration's whole
    # overlap (late commits) once per FULL_REREAD_SECONDS. An on-demand pull keeps it all.
    now = [1000.0]
    runtime = engine_kit.runtime
    scheduler = PullScheduler(
        sessionmaker=runtime.sessionmaker, targets=runtime.targets, clock=lambda: now[0]
    )

    async def window_reread() -> timedelta:
        async with runtime.sessionmaker() as session:
            row = await session.get_one(ResmanIntegration, engine_kit.integration_id)
            cursor, overlap = row.pull_cursor_at, row.pull_overlap_seconds
        assert overlap == 300
        (result,) = await scheduler.poll_once()
        assert result.outcome == "pulled"
        assert result.summary is not None
        assert result.summary.window_start is not None
        assert cursor is not None
        return cursor.replace(microsecond=0) - result.summary.window_start

    await scheduler.poll_once()  # the first poll sets the cursor (no overlap to re-read)
    now[0] += 10
    assert await window_reread() == timedelta(seconds=QUICK_OVERLAP_SECONDS)
    now[0] += FULL_REREAD_SECONDS
    assert await window_reread() == timedelta(seconds=300)
    now[0] += 10
    assert await window_reread() == timedelta(seconds=QUICK_OVERLAP_SECONDS)
    summary = await scheduler.pull_now(integration_id=engine_kit.integration_id)
    assert summary.window_start is not None
    assert summary.cursor_before is not None
    assert summary.cursor_before.replace(microsecond=0) - summary.window_start == timedelta(
        seconds=300
    )
