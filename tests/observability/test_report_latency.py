"""The success report's sync latency is the time a change waited to reach the other side:
a chat transcript's batch window (it waits on purpose) is not part of it; on real SQLite
and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from factories import make_integration, make_property
from leadsync.db.models import LeadSyncQueue
from leadsync.db.types import utcnow
from leadsync.observability.report import build_report
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.transcripts import transcript_key


async def _succeeded(
    session: AsyncSession, *, integration_id: uuid.UUID, lead_key: str, waited: float
) -> None:
    job_id = await queue.enqueue(
        session,
        integration_id=integration_id,
        conversation_id=None,
        lead_key=lead_key,
        operation="push",
        data={"sync_type": "update", "fields": {}, "events": []},
    )
    now = utcnow()
    await session.execute(
        update(LeadSyncQueue)
        .where(LeadSyncQueue.id == job_id)
        .values(state="succeeded", created_at=now - timedelta(seconds=waited), updated_at=now)
    )


def _criterion(report: dict[str, object], name: str) -> dict[str, object]:
    criteria = report["criteria"]
    assert isinstance(criteria, list)
    return next(c for c in criteria if c["name"] == name)


async def test_a_transcript_batch_window_is_not_sync_latency(session: AsyncSession) -> None:
    prop = await make_property(session)
    integration = await make_integration(session, property_id=prop.id)
    for _ in range(3):
        await _succeeded(
            session, integration_id=integration.id, lead_key=f"lead:{uuid.uuid4()}", waited=0.5
        )
    # A transcript job that waited its three-minute batch window before it ran.
    await _succeeded(
        session,
        integration_id=integration.id,
        lead_key=transcript_key(uuid.uuid4()),
        waited=180.0,
    )
    await session.flush()

    report = await build_report(session, since=timedelta(days=1))

    p99 = _criterion(report, "sync latency to_resman p99")
    assert p99["passed"] is True
    assert isinstance(p99["value"], float)
    assert p99["value"] < 30
    success = _criterion(report, "sync success rate to_resman")
    assert "4 jobs succeeded" in str(success["detail"])
