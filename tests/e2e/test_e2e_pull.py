"""Pull end to end: ResMan sandbox -> SearchProspects windows -> apply -> API, scheduler, CLI.

Every test runs on SQLite and on PostgreSQL (when configured), through the real sandbox over
HTTP, with the sandbox's real 502 "buffer overflow" forcing the windows to split.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from leadsync.cli.sync import sync_app
from leadsync.config import get_settings
from leadsync.db.engine import create_engine_for, create_sessionmaker
from leadsync.db.models import (
    Conversation,
    LeadLink,
    LeadSyncLog,
    LeadSyncQueue,
    Property,
    RealtimeEvent,
    ResmanIntegration,
)
from leadsync.db.types import utcnow
from leadsync.sync.pull import routes as pull_routes
from leadsync.sync.pull.scheduler import PullLocks, PullScheduler, advisory_key
from leadsync.sync.queue.flags import set_push_paused
from pulls import Totals, pull, pull_until
from stack import Stack, Tenant, create_synced_lead, wait_until

HISTORY = datetime(2024, 6, 1, tzinfo=UTC)


# --- helpers -------------------------------------------------------------------------------
async def bulk(
    stack: Stack, tenant: Tenant, *, count: int, start: datetime, end: datetime, seed: int
) -> None:
    response = await stack.sandbox.post(
        f"/admin/properties/{tenant.resman_property_id}/prospects/bulk",
        json={
            "count": count,
            "modified_from": start.isoformat(),
            "modified_to": end.isoformat(),
            "seed": seed,
        },
    )
    response.raise_for_status()


async def stored_prospect_ids(stack: Stack, tenant: Tenant) -> list[str | None]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(LeadLink.resman_prospect_id).where(
                LeadLink.integration_id == tenant.integration_id
            )
        )
        return list(rows)


async def cursor_of(stack: Stack, tenant: Tenant) -> datetime | None:
    async with stack.runtime.sessionmaker() as session:
        cursor: datetime | None = await session.scalar(
            select(ResmanIntegration.pull_cursor_at).where(
                ResmanIntegration.id == tenant.integration_id
            )
        )
        return cursor


async def resman_ids(stack: Stack, tenant: Tenant) -> set[str]:
    return {str(p["prospect_id"]) for p in await stack.resman_prospects(tenant)}


def json_output(stdout: str) -> dict[str, Any]:
    """The command's JSON document (log lines may precede it: tests do not configure
    logging to stderr the way `leadsync` does)."""
    lines = stdout.splitlines()
    data: dict[str, Any] = json.loads("\n".join(lines[lines.index("{") :]))
    return data


# --- windows, overflow, overlap ------------------------------------------------------------
async def test_every_prospect_is_stored_once_when_windows_overflow_and_split(
    stack: Stack,
) -> None:
    await bulk(stack, stack.a, count=600, start=HISTORY, end=HISTORY + timedelta(hours=1), seed=1)
    await stack.set_faults(overflow_threshold=50)
    window = {
        "date_from": (HISTORY - timedelta(minutes=1)).isoformat(),
        "date_to": (HISTORY + timedelta(hours=1, minutes=1)).isoformat(),
        "limit": 1000,
    }
    first = await pull(stack, stack.a, **window)
    assert first["sync_summary"]["new_leads"] == 600
    assert first["sync_summary"]["failed_syncs"] == 0
    assert first["total_count"] == len(first["leads"]) == 600
    stored = await stored_prospect_ids(stack, stack.a)
    assert len(stored) == 600
    assert set(stored) == await resman_ids(stack, stack.a)
    assert {lead["resman_lead_id"] for lead in first["leads"]} == set(stored)
    assert all(lead["source"] == "resman" for lead in first["leads"])
    # A historic window says nothing about the last 30 days: the cursor stays unset.
    assert await cursor_of(stack, stack.a) is None

    again = await pull(stack, stack.a, **window)
    assert again["sync_summary"]["new_leads"] == 0
    assert again["sync_summary"]["updated_leads"] == 0
    assert again["sync_summary"]["prospects_seen"] == 600
    assert len(await stored_prospect_ids(stack, stack.a)) == 600


async def test_overlap_rereads_recent_changes_without_effect(stack: Stack) -> None:
    now = utcnow()
    await bulk(
        stack,
        stack.a,
        count=40,
        start=now - timedelta(minutes=3),
        end=now - timedelta(seconds=5),
        seed=2,
    )
    first = await pull(stack, stack.a, status_filter="new,lost", limit=5)
    summary = first["sync_summary"]
    assert summary["new_leads"] == 40
    assert len(first["leads"]) <= 5
    assert all(lead["status"] in ("new", "lost") for lead in first["leads"])
    cursor = await cursor_of(stack, stack.a)
    assert cursor is not None
    assert first["next_sync_token"] == cursor.isoformat()

    # The next incremental pull starts 300 s before the cursor: it reads all 40 again.
    again = await pull(stack, stack.a)
    assert again["sync_summary"]["prospects_seen"] == 40
    assert (again["sync_summary"]["new_leads"], again["sync_summary"]["updated_leads"]) == (0, 0)
    assert again["total_count"] == 40
    assert await cursor_of(stack, stack.a) >= cursor  # type: ignore[operator]
    assert len(await stored_prospect_ids(stack, stack.a)) == 40


async def test_status_filter_takes_the_spec_string_array(stack: Stack) -> None:
    now = utcnow()
    await bulk(
        stack,
        stack.a,
        count=30,
        start=now - timedelta(minutes=3),
        end=now - timedelta(seconds=5),
        seed=6,
    )

    def ids(body: dict[str, Any]) -> list[str]:
        return sorted(lead["resman_lead_id"] for lead in body["leads"])

    commas = await pull(stack, stack.a, status_filter="new,lost", limit=1000)
    # status_filter=new&status_filter=lost (the spec's string[]); it used to keep the last one.
    repeated = await pull(stack, stack.a, status_filter=["new", "lost"], limit=1000)
    mixed = await pull(stack, stack.a, status_filter=["lost", "new,lost"], limit=1000)
    assert ids(commas)
    assert ids(commas) == ids(repeated) == ids(mixed)
    assert all(lead["status"] in ("new", "lost") for lead in repeated["leads"])
    response = await stack.api.get(
        "/api/resman/leads/pull",
        params={"property_id": str(stack.a.property_id), "status_filter": ["new", "maybe"]},
        headers=stack.auth(stack.a),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "status_filter"


async def test_cursor_stops_before_a_window_that_cannot_be_read(stack: Stack) -> None:
    now = utcnow().replace(microsecond=0)
    crowd_at = now - timedelta(minutes=10)
    await bulk(
        stack,
        stack.a,
        count=20,
        start=now - timedelta(minutes=25),
        end=now - timedelta(minutes=20),
        seed=3,
    )
    early = await resman_ids(stack, stack.a)
    # 60 prospects in one second: above the threshold at any split.
    await bulk(
        stack, stack.a, count=60, start=crowd_at, end=crowd_at + timedelta(seconds=1), seed=4
    )
    await stack.set_faults(overflow_threshold=50)

    blocked = await pull(stack, stack.a)
    failed = blocked["sync_summary"]["failed_windows"]
    assert len(failed) == 1
    start = datetime.fromisoformat(failed[0]["start"])
    assert start <= crowd_at < datetime.fromisoformat(failed[0]["end"])
    assert blocked["sync_summary"]["new_leads"] == 20
    assert blocked["sync_summary"]["failed_syncs"] == 1
    assert await cursor_of(stack, stack.a) == start
    assert set(await stored_prospect_ids(stack, stack.a)) == early
    async with stack.runtime.sessionmaker() as session:
        logged = await session.scalar(
            select(LeadSyncLog).where(
                LeadSyncLog.integration_id == stack.a.integration_id,
                LeadSyncLog.sync_type == "enrichment",
            )
        )
    assert logged is not None
    assert logged.sync_status == "failed"

    await stack.set_faults(overflow_threshold=100)
    freed = await pull(stack, stack.a)
    assert freed["sync_summary"]["new_leads"] == 60
    assert freed["sync_summary"]["failed_windows"] == []
    assert await cursor_of(stack, stack.a) > crowd_at  # type: ignore[operator]
    stored = await stored_prospect_ids(stack, stack.a)
    assert len(stored) == 80
    assert set(stored) == await resman_ids(stack, stack.a)


async def test_a_prospect_that_cannot_be_applied_is_queued_not_skipped(stack: Stack) -> None:
    async with stack.runtime.sessionmaker() as session, session.begin():
        # An unknown time zone makes every apply of this property fail (a data problem).
        await session.execute(
            update(Property)
            .where(Property.id == stack.a.property_id)
            .values(timezone="Mars/Olympus_Mons")
        )
    await bulk(stack, stack.a, count=3, start=HISTORY, end=HISTORY + timedelta(minutes=5), seed=12)
    window = {
        "date_from": HISTORY.isoformat(),
        "date_to": (HISTORY + timedelta(hours=1)).isoformat(),
    }
    failed = await pull(stack, stack.a, **window)
    assert failed["sync_summary"]["failed_syncs"] == 3
    assert failed["sync_summary"]["new_leads"] == 0
    async with stack.runtime.sessionmaker() as session:
        jobs = list(
            await session.scalars(
                select(LeadSyncQueue).where(
                    LeadSyncQueue.integration_id == stack.a.integration_id,
                    LeadSyncQueue.sync_operation == "pull",
                )
            )
        )
    ids = await resman_ids(stack, stack.a)
    assert {job.resman_lead_id for job in jobs} == ids
    assert {job.lead_key for job in jobs} == {f"resman:{i}" for i in ids}
    assert all(
        job.sync_data == {"kind": "refresh", "prospect_id": job.resman_lead_id, "inbox_id": None}
        for job in jobs
    )


# --- returning prospects -------------------------------------------------------------------
async def test_walk_in_is_pulled_and_recognised_by_email_and_phone(stack: Stack) -> None:
    created = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects",
        json={
            "first_name": "Jordan",
            "last_name": "Walker",
            "email": "Jordan.Walker@Gmail.com",
            "phone": "(512) 555-0142",
        },
    )
    created.raise_for_status()
    prospect_id = created.json()["prospect_id"]
    totals = Totals()
    await pull_until(stack, stack.a, totals, lambda t: t.new >= 1)
    assert totals.new == 1

    found = await stack.api.get(
        "/api/resman/leads/lookup",
        params={"email": " jordan.walker@GMAIL.com"},
        headers=stack.auth(stack.a),
    )
    assert found.status_code == 200, found.text
    [match] = found.json()["matches"]
    assert (match["resman_lead_id"], match["source"]) == (prospect_id, "resman")
    assert (match["first_name"], match["email"]) == ("Jordan", "jordan.walker@gmail.com")
    by_phone = await stack.api.get(
        "/api/resman/leads/lookup", params={"phone": "+1 512-555-0142"}, headers=stack.auth(stack.a)
    )
    assert [m["conversation_id"] for m in by_phone.json()["matches"]] == [match["conversation_id"]]

    context = await stack.api.get(
        f"/api/resman/leads/{match['conversation_id']}/context", headers=stack.auth(stack.a)
    )
    assert context.status_code == 200, context.text
    assert context.json()["context"]["resman"]["resman_prospect_id"] == prospect_id

    # Property B's key sees none of it.
    other = await stack.api.get(
        "/api/resman/leads/lookup",
        params={"email": "jordan.walker@gmail.com"},
        headers=stack.auth(stack.b),
    )
    assert other.json() == {"matches": [], "total_count": 0}
    hidden = await stack.api.get(
        f"/api/resman/leads/{match['conversation_id']}/context", headers=stack.auth(stack.b)
    )
    assert hidden.status_code == 404
    bad = await stack.api.get(
        "/api/resman/leads/lookup", params={"email": "not-an-email"}, headers=stack.auth(stack.a)
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "email"


async def test_staff_changes_and_a_conflict_show_in_the_sync_summary(stack: Stack) -> None:
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a)
    baseline = Totals()
    # Until the prospect is read: a pull in the second of the create does not see it yet.
    await pull_until(stack, stack.a, baseline, lambda t: t.seen >= 1)
    assert (baseline.new, baseline.updated) == (0, 0)  # our own push coming back is no news

    async with stack.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == stack.a.integration_id)
            .values(conflict_strategy="resman_wins")
        )
        # Hold our side's change back so both sides edit the same field concurrently.
        await set_push_paused(session, paused=True, changed_by="test")
    patched = await stack.api.patch(
        f"/api/resman/leads/{conversation_id}",
        json={"email": "maria.g@outlook.com"},
        headers=stack.auth(stack.a),
    )
    assert patched.status_code == 200, patched.text
    prospect_url = f"/admin/properties/{stack.a.resman_property_id}/prospects/{prospect_id}"
    staff = await stack.sandbox.post(f"{prospect_url}/contact", json={"email": "mg@yahoo.com"})
    staff.raise_for_status()
    walk_in = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects",
        json={"first_name": "Sam", "last_name": "Okafor", "phone": "(737) 555-0110"},
    )
    walk_in.raise_for_status()

    totals = Totals()
    await pull_until(stack, stack.a, totals, lambda t: t.new >= 1 and t.resolved >= 1)
    assert (totals.new, totals.updated, totals.resolved) == (1, 1, 1)
    async with stack.runtime.sessionmaker() as session:
        conv = await session.get(Conversation, conversation_id)
    assert conv is not None
    assert conv.email == "mg@yahoo.com"  # resman_wins
    quiet = await pull(stack, stack.a)
    assert (quiet["sync_summary"]["new_leads"], quiet["sync_summary"]["updated_leads"]) == (0, 0)


async def test_the_first_read_of_a_pushed_lead_is_news_only_with_office_work(
    stack: Stack,
) -> None:
    """The first pull that reads a lead we pushed stores ResMan's context (status, type, ids)
    for the chatbot; that is our create coming back, not an update, however late the pull
    runs. A note the office wrote before that first read is news."""
    quiet_id, _ = await create_synced_lead(stack, stack.a)
    noted_id, noted_prospect = await create_synced_lead(stack, stack.b)
    note = f"/admin/properties/{stack.b.resman_property_id}/prospects/{noted_prospect}/notes"
    (await stack.sandbox.post(note, json={"text": "Asked about parking"})).raise_for_status()

    quiet, noted = Totals(), Totals()
    await pull_until(stack, stack.a, quiet, lambda t: t.seen >= 1)
    await pull_until(stack, stack.b, noted, lambda t: t.seen >= 1)
    assert (quiet.new, quiet.updated) == (0, 0)
    assert (noted.new, noted.updated) == (0, 1)
    async with stack.runtime.sessionmaker() as session:
        quiet_conv = await session.get(Conversation, quiet_id)
        noted_conv = await session.get(Conversation, noted_id)
    assert quiet_conv is not None
    assert noted_conv is not None
    assert quiet_conv.context["resman"]["resman_status"] == "new"  # stored all the same
    notes = noted_conv.context["resman"]["recent_notes"]
    assert any("parking" in str(n) for n in notes), notes
    # Subscribers hear of the office's note, not of our own create coming back.
    async with stack.runtime.sessionmaker() as session:
        heard = dict(
            (
                await session.execute(
                    select(RealtimeEvent.property_id, func.count())
                    .where(RealtimeEvent.source == "resman")
                    .group_by(RealtimeEvent.property_id)
                )
            ).all()
        )
    assert heard.get(stack.a.property_id, 0) == 0
    assert heard.get(stack.b.property_id, 0) >= 1


# --- scope ---------------------------------------------------------------------------------
async def test_a_key_for_a_cannot_pull_b(stack: Stack) -> None:
    now = utcnow()
    await bulk(
        stack,
        stack.a,
        count=5,
        start=now - timedelta(minutes=2),
        end=now - timedelta(seconds=5),
        seed=5,
    )
    await bulk(
        stack,
        stack.b,
        count=7,
        start=now - timedelta(minutes=2),
        end=now - timedelta(seconds=5),
        seed=6,
    )
    forbidden = await stack.api.get(
        "/api/resman/leads/pull",
        params={"property_id": str(stack.b.property_id)},
        headers=stack.auth(stack.a),
    )
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")

    everything = await stack.api.get(
        "/api/resman/leads/pull", params={"limit": 1000}, headers=stack.auth(stack.a)
    )
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["sync_summary"]["new_leads"] == 5
    assert {lead["property_id"] for lead in body["leads"]} == {str(stack.a.property_id)}
    assert await stored_prospect_ids(stack, stack.b) == []
    assert await cursor_of(stack, stack.b) is None


async def test_pull_refusals_are_problems(stack: Stack) -> None:
    async def get(**params: Any) -> Any:
        return await stack.api.get(
            "/api/resman/leads/pull", params=params, headers=stack.auth(stack.a)
        )

    invalid: list[tuple[dict[str, Any], str]] = [
        ({"status_filter": "new,maybe"}, "status_filter"),
        ({"limit": 0}, "limit"),
        ({"date_from": "2026-01-02T00:00:00Z", "date_to": "2026-01-01T00:00:00Z"}, "date_from"),
        ({"sync_type": "partial"}, "sync_type"),
        # A bare number is not read as a Unix time (found by the fuzzer, tests/security).
        ({"date_to": "11343"}, "date_to"),
    ]
    for params, field in invalid:
        response = await get(**params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"] == field
    async with stack.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == stack.a.integration_id)
            .values(sync_direction="to_resman")
        )
    assert (await get(property_id=str(stack.a.property_id))).status_code == 409
    # Without property_id the key's properties that pull are read: none here.
    nothing = await get()
    assert nothing.status_code == 200
    assert nothing.json()["sync_summary"]["prospects_seen"] == 0
    assert (await get(property_id=str(uuid.uuid4()))).status_code == 403


async def test_pull_api_reports_a_running_pull_and_a_failing_resman(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull_routes, "PULL_LOCK_WAIT_SECONDS", 0.2)
    async with stack.runtime.scheduler.locks.hold(stack.a.integration_id) as held:
        assert held
        busy = await stack.api.get(
            "/api/resman/leads/pull",
            params={"property_id": str(stack.a.property_id)},
            headers=stack.auth(stack.a),
        )
    assert busy.status_code == 409
    assert busy.headers["retry-after"] == "5"

    await stack.set_faults(http_error_rate=1.0, methods=["MITS/SearchProspects"])
    down = await stack.api.get(
        "/api/resman/leads/pull",
        params={"property_id": str(stack.a.property_id)},
        headers=stack.auth(stack.a),
    )
    assert down.status_code == 502, down.text
    assert "ResMan unavailable" in down.json()["title"]
    assert await cursor_of(stack, stack.a) is None


# --- the scheduler -------------------------------------------------------------------------
async def test_scheduler_polls_due_integrations_and_skips_a_held_lock(stack: Stack) -> None:
    now = utcnow()
    await bulk(
        stack,
        stack.a,
        count=5,
        start=now - timedelta(minutes=2),
        end=now - timedelta(seconds=5),
        seed=7,
    )
    await bulk(
        stack,
        stack.b,
        count=3,
        start=now - timedelta(minutes=2),
        end=now - timedelta(seconds=5),
        seed=8,
    )
    async with stack.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == stack.b.integration_id)
            .values(circuit_open_until=now + timedelta(minutes=5))
        )
    scheduler = stack.runtime.scheduler
    async with scheduler.locks.hold(stack.a.integration_id) as held:
        assert held
        results = await scheduler.poll_once()
    # A is busy (someone holds its lock), B's circuit is open: nothing was pulled.
    assert [(r.integration_id, r.outcome) for r in results] == [(stack.a.integration_id, "busy")]
    assert await stored_prospect_ids(stack, stack.a) == []

    async with stack.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == stack.b.integration_id)
            .values(circuit_open_until=None)
        )
    outcomes = {r.integration_id: r for r in await scheduler.poll_once()}
    assert outcomes[stack.a.integration_id].outcome == "pulled"
    assert outcomes[stack.a.integration_id].summary.new_leads == 5  # type: ignore[union-attr]
    assert outcomes[stack.b.integration_id].summary.new_leads == 3  # type: ignore[union-attr]


async def test_scheduler_loop_pulls_on_its_own_and_stops_on_request(stack: Stack) -> None:
    now = utcnow()
    await bulk(
        stack,
        stack.a,
        count=6,
        start=now - timedelta(minutes=2),
        end=now - timedelta(seconds=5),
        seed=11,
    )
    scheduler = PullScheduler(
        sessionmaker=stack.runtime.sessionmaker,
        targets=stack.runtime.targets,
        interval=0.2,
        jitter=0.5,
    )
    stop = asyncio.Event()
    loop = asyncio.create_task(scheduler.run(stop))

    async def stored_all() -> bool:
        return len(await stored_prospect_ids(stack, stack.a)) == 6

    await wait_until(stored_all)
    # Each round moves the cursor on with the clock.
    await wait_until(lambda: _cursor_moved(stack, stack.a, past=now))
    stop.set()
    await loop
    assert len(await stored_prospect_ids(stack, stack.a)) == 6


async def _cursor_moved(stack: Stack, tenant: Tenant, *, past: datetime) -> bool:
    cursor = await cursor_of(stack, tenant)
    return cursor is not None and cursor > past


async def test_another_instance_holding_the_advisory_lock_is_skipped(stack: Stack) -> None:
    if stack.runtime.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite runs in one process")
    await bulk(
        stack,
        stack.a,
        count=4,
        start=utcnow() - timedelta(minutes=1),
        end=utcnow() - timedelta(seconds=5),
        seed=9,
    )
    # A second instance: its own engine, pool and locks, the same database.
    engine = create_engine_for(str(stack.runtime.settings.effective_database_url))
    other = PullScheduler(
        sessionmaker=create_sessionmaker(engine),
        targets=stack.runtime.targets,
        locks=PullLocks(engine),
    )
    try:
        async with stack.runtime.engine.connect() as conn:
            key = advisory_key(stack.a.integration_id)
            await conn.execute(select(func.pg_advisory_lock(key)))
            results = {r.integration_id: r.outcome for r in await other.poll_once()}
            assert results[stack.a.integration_id] == "busy"
            assert results[stack.b.integration_id] == "pulled"
            await conn.execute(select(func.pg_advisory_unlock(key)))
            await conn.commit()
        # The first instance's scheduler holds it now: the other one skips again.
        async with stack.runtime.scheduler.locks.hold(stack.a.integration_id) as held:
            assert held
            [busy] = [
                r for r in await other.poll_once() if r.integration_id == stack.a.integration_id
            ]
            assert busy.outcome == "busy"
        results = {r.integration_id: r.outcome for r in await other.poll_once()}
        assert results[stack.a.integration_id] == "pulled"
        assert len(await stored_prospect_ids(stack, stack.a)) == 4
    finally:
        await engine.dispose()


# --- the CLI -------------------------------------------------------------------------------
async def test_cli_pull_stores_and_reports(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = stack.runtime.settings
    assert settings.encryption_keys is not None
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", settings.encryption_keys.get_secret_value())
    get_settings.cache_clear()
    await bulk(stack, stack.a, count=12, start=HISTORY, end=HISTORY + timedelta(hours=1), seed=10)
    runner = CliRunner()
    integration = str(stack.a.integration_id)

    def invoke(*args: str) -> Any:
        return runner.invoke(sync_app, ["pull", "--integration", integration, *args])

    since = (HISTORY - timedelta(minutes=1)).isoformat()
    first = await asyncio.to_thread(invoke, "--since", since, "--json")
    assert first.exit_code == 0, first.output
    data = json_output(first.stdout)
    assert (data["new_leads"], data["prospects_seen"], data["trigger"]) == (12, 12, "cli")
    human = await asyncio.to_thread(invoke, "--since", since)
    assert human.exit_code == 0, human.output
    assert "new leads: 0  updated: 0  unchanged: 12" in human.stdout
    assert len(await stored_prospect_ids(stack, stack.a)) == 12

    bad = await asyncio.to_thread(invoke, "--since", "yesterday")
    assert bad.exit_code == 1
    assert "not an ISO 8601 time" in bad.stderr
    unknown = await asyncio.to_thread(
        runner.invoke, sync_app, ["pull", "--integration", str(uuid.uuid4())]
    )
    assert unknown.exit_code == 1
    assert "no integration with id" in unknown.stderr
