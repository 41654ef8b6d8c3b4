"""Per-lead statements read only the lead's own rows: the duplicate check before a create,
and a pull importing office prospects, are driven by the conversation, email and phone
indexes, never by walking every link, job or conversation of the integration or property.
SQLite has no statistics, so a join with ``integration_id = ?`` or ``property_id = ?`` made
it walk that index: work that grew with the history, for every lead (a pull of N new
prospects cost N x conversations)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from factories import make_conversation
from leadsync.db.models import LeadLink
from leadsync.db.types import utcnow
from leadsync.sync.push.plan import plan_push
from leadsync.sync.queue.jobs import Placement, PushJob, enqueue_job
from sync.sync_kit import Engine

#: Plan steps that walk the integration's history instead of the lead's contacts.
_WALKS = (
    "ix_lead_sync_queue_integration_id",
    "ix_lead_link_integration_id_resman_prospect_id (integration_id=? AND resman_prospect_id>?)",
    "SCAN lead_sync_queue",
    "SCAN lead_link",
    "SCAN conversation",
    "ix_conversation_property_id_updated_at (property_id=?)",
)


async def _history(engine_kit: Engine, *, count: int, unlinked: int) -> None:
    """Other leads of the integration, each with a push job in the queue; all linked but the
    ``unlinked``-th (its create still queued)."""
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            conv = await make_conversation(session, property_id=engine_kit.property_id)
            conv.email, conv.phone = f"other{i}@example.org", f"+1512555{i:04d}"
            if i != unlinked:
                session.add(
                    LeadLink(
                        conversation_id=conv.id,
                        integration_id=engine_kit.integration_id,
                        resman_prospect_id=f"P-{i}",
                    )
                )
            await enqueue_job(
                session,
                job=PushJob(sync_type="create", fields={}),
                at=Placement(
                    integration_id=engine_kit.integration_id, conversation_id=conv.id, priority=2
                ),
            )


async def test_the_duplicate_check_reads_only_the_leads_contacts(engine_kit: Engine) -> None:
    engine = engine_kit.runtime.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan shape is SQLite's (PostgreSQL plans from its statistics)")
    await _history(engine_kit, count=30, unlinked=7)
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(session, property_id=engine_kit.property_id)
        conv.email, conv.phone = "other3@example.org", "+15125550007"
    statements = _Statements(engine)
    with statements:
        async with engine_kit.runtime.sessionmaker() as session:
            plan = await plan_push(
                session,
                conversation_id=conv.id,
                integration_id=engine_kit.integration_id,
                job=PushJob(sync_type="create", fields={}),
                seq=10**9,
            )
    # The check itself still finds both: the linked sibling by email, and (the job of the
    # sibling by phone is queued ahead) the create to wait for.
    assert [s.prospect_id for s in plan.siblings] == ["P-3"]
    assert plan.wait_for is not None
    assert len(statements.selects) >= 4
    assert await statements.walks() == []


async def test_a_pull_of_office_prospects_reads_only_their_rows(engine_kit: Engine) -> None:
    if engine_kit.runtime.engine.dialect.name != "sqlite":
        pytest.skip("the plan shape is SQLite's (PostgreSQL plans from its statistics)")
    await _history(engine_kit, count=30, unlinked=7)
    now = utcnow()
    await engine_kit.office_leads(
        count=3, start=now - timedelta(minutes=2), end=now - timedelta(seconds=5)
    )
    statements = _Statements(engine_kit.runtime.engine)
    with statements:
        results = await engine_kit.runtime.scheduler.poll_once()
    assert results[0].summary is not None
    assert results[0].summary.new_leads == 3
    assert await statements.walks() == []
    # The property's time zone (for each prospect's context) is read once, not per prospect.
    timezone_reads = [sql for sql, _ in statements.selects if "property.timezone" in sql]
    assert len(timezone_reads) == 1, timezone_reads


class _Statements:
    """The SELECTs run on ``engine`` inside the ``with`` block, and SQLite's plan of each."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.selects: list[tuple[str, Any]] = []

    def _capture(
        self, conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool
    ) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            self.selects.append((sql, params))

    def __enter__(self) -> _Statements:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._capture)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._capture)

    async def walks(self) -> list[str]:
        """Plan steps (with their statement) that walk a whole integration or property."""
        found: list[str] = []
        async with self.engine.connect() as connection:
            for sql, params in self.selects:
                steps = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params))
                found.extend(
                    f"{row[-1]}  <-  {' '.join(sql.split())[:120]}"
                    for row in steps.all()
                    if any(walk in row[-1] for walk in _WALKS)
                )
        return found
