"""One tick of the pull scheduler (``poll_once``), without the HTTP API or its timer: it
pulls every integration that is due, and only those, from the bundled sandbox through the
real ResMan client; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from leadsync.db.models import Conversation, LeadLink, ResmanIntegration
from leadsync.db.types import utcnow
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
