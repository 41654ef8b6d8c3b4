"""`make run`'s demo traffic at speed: the traffic generator of `leadsync up --demo`, with its
returning prospects and shared phones, against the real app wired the way `leadsync up` wires
it (bundled sandbox, demo tenant, signed webhooks, change feed, pull scheduler, worker).
Everything it sends must sync: no dead letter, no internal error, no 5xx."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from pprint import pformat
from typing import Any

import httpx2
import pytest
import structlog
from sqlalchemy import or_, select
from structlog.testing import capture_logs
from typer.testing import CliRunner

from leadsync.app import create_app
from leadsync.cli.queue import queue_app
from leadsync.config import Settings, get_settings
from leadsync.db.models import LeadSyncQueue
from leadsync.demo import DemoStats, drive_demo, new_person, roommate_of
from leadsync.embedded import DemoTenant, connect_sandbox_webhooks, ensure_demo_tenant
from leadsync.runtime import Runtime
from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.seed import SANDBOX_PROPERTY_ID
from leadsync.sandbox.server import SandboxServer
from stack import PATIENCE, stack_settings, wait_until

#: A few minutes of `make run` (a round every 3 s) compressed into one burst.
ROUNDS = 120


@dataclass
class Embedded:
    settings: Settings
    runtime: Runtime
    tenant: DemoTenant
    api_url: str
    sandbox: httpx2.AsyncClient


@pytest.fixture
def demo_data_dir(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, mode=0o700)
    return data_dir


@pytest.fixture
async def embedded(migrated_db_url: str, demo_data_dir: Path) -> AsyncIterator[Embedded]:
    """What `leadsync up --demo` starts (embedded.run_embedded), on the test's database, with
    the product's own timings except a pull every second (more pulls in a short run)."""
    data_dir = demo_data_dir
    settings = stack_settings(
        db_url=migrated_db_url,
        data_dir=data_dir,
        push_wait_seconds=Settings.model_fields["push_wait_seconds"].default,
        pull_interval_seconds=1.0,
    )
    runtime = Runtime.build(settings)
    sandbox_app = create_sandbox_app(SandboxConfig(state_file=data_dir / "sandbox.db"))
    try:
        async with SandboxServer(sandbox_app) as sandbox:
            async with runtime.sessionmaker() as session, session.begin():
                tenant = await ensure_demo_tenant(
                    session, runtime=runtime, sandbox_url=sandbox.base_url
                )
            app = create_app(settings, runtime=runtime, run_worker=True)
            runtime.start_scheduler()
            runtime.start_feeds()
            async with (
                SandboxServer(app) as api,
                httpx2.AsyncClient(base_url=sandbox.base_url, timeout=PATIENCE) as admin,
            ):
                await connect_sandbox_webhooks(
                    sandbox_url=sandbox.base_url, api_url=api.base_url, tenant=tenant
                )
                yield Embedded(settings, runtime, tenant, api.base_url, admin)
    finally:
        await runtime.close()


async def _troubled_jobs(runtime: Runtime) -> list[str]:
    """Dead letters, and jobs that failed with an internal error (whatever their state)."""
    async with runtime.sessionmaker() as session:
        jobs = await session.scalars(
            select(LeadSyncQueue).where(
                or_(LeadSyncQueue.state == "dead", LeadSyncQueue.error_category == "internal")
            )
        )
        return [
            f"{job.sync_operation} {job.state} {job.error_category}: "
            + " | ".join((job.last_error or "").splitlines()[:2])
            for job in jobs
        ]


async def _settled(env: Embedded) -> bool:
    """Every webhook the office caused is handled, and the queue has nothing left to run."""
    webhooks = (await env.sandbox.get("/admin/stats")).json()["webhooks"]
    if webhooks["queued"] > webhooks["delivered"] + webhooks["failed"] + webhooks["dropped"]:
        return False
    async with env.runtime.sessionmaker() as session:
        waiting = await session.scalar(
            select(LeadSyncQueue.id).where(LeadSyncQueue.state.in_(("queued", "running")))
        )
    return waiting is None


def test_a_roommate_is_another_person_on_the_same_phone() -> None:
    rng = random.Random(3)
    for n in range(50):
        person = new_person(rng, n=n)
        roommate = roommate_of(rng, person, n=n + 1000)
        assert roommate.phone == person.phone
        assert roommate.first_name != person.first_name
        assert roommate.last_name != person.last_name
        assert roommate.email not in (None, person.email)


def _dead_letters_by_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Any:
    """`leadsync queue list --state dead --json`, the check the README gives an operator."""
    monkeypatch.setenv("LEADSYNC_DATABASE_URL", settings.effective_database_url)
    assert settings.encryption_keys is not None
    monkeypatch.setenv("LEADSYNC_ENCRYPTION_KEYS", settings.encryption_keys.get_secret_value())
    get_settings.cache_clear()
    result = CliRunner().invoke(queue_app, ["list", "--state", "dead", "--json"])
    assert result.exit_code == 0, result.output
    # The indented JSON list; the app's own log lines may be printed around it meanwhile.
    lines = result.stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line in ("[", "[]"))
    end = lines.index("]", start) + 1 if lines[start] == "[" else start + 1
    return json.loads("\n".join(lines[start:end]))


def _errors(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """Log lines that report an error, and webhook deliveries our receiver answered 5xx."""
    return [
        entry
        for entry in logs
        if entry.get("log_level") in ("error", "critical", "exception")
        or (isinstance(entry.get("outcome"), int) and entry["outcome"] >= 500)
    ]


def _summary(entry: MutableMapping[str, Any]) -> str:
    """An error line with the deepest leadsync frame of its traceback and the error itself."""
    trace = str(entry.get("exception", "")).strip().splitlines()
    ours = [line.strip() for line in trace if "/leadsync/" in line and ".venv" not in line]
    tail = [*ours[-1:], *trace[-1:]]
    fields = {k: v for k, v in entry.items() if k != "exception"}
    return " | ".join([str(fields), *tail])[:600]


@pytest.mark.slow
async def test_demo_traffic_at_speed_leaves_no_dead_letter_and_no_internal_error(
    embedded: Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = embedded
    lines: list[str] = []
    # format_exc_info: an error's traceback is kept in the captured line (as "exception").
    with capture_logs(processors=[structlog.processors.format_exc_info]) as logs:
        stats: DemoStats = await drive_demo(
            api_url=env.api_url,
            api_key=env.tenant.api_key,
            property_id=env.tenant.property_id,
            interval=0,
            settle=0,
            rounds=ROUNDS,
            seed=8,
            echo=lines.append,
            sandbox_url=str(env.sandbox.base_url).rstrip("/"),
            resman_property_id=SANDBOX_PROPERTY_ID,
        )

        async def settled_or_broken() -> bool:
            # Stop waiting at the first dead letter or internal error: an internal error is
            # retried (today) for many minutes before it is dead-lettered.
            return bool(await _troubled_jobs(env.runtime)) or await _settled(env)

        await wait_until(settled_or_broken, interval=0.5)
        dead_letters = await asyncio.to_thread(_dead_letters_by_cli, monkeypatch, env.settings)

    # The traffic had what real people produce.
    assert stats.rounds == ROUNDS
    kinds = (stats.new_people, stats.returning, stats.shared_phone, stats.tours)
    assert all(kinds), stats
    assert stats.office_actions > 0, stats
    assert stats.chat_messages > 0, stats
    # Every request was answered with a success; nothing dead-lettered, nothing failed for an
    # internal reason, nothing logged as an error. One report of everything that went wrong.
    problems = {
        "unanswered requests": stats.unanswered,
        "API errors": stats.api_errors,
        "dead or internal jobs": [line[:300] for line in await _troubled_jobs(env.runtime)],
        "error logs": [_summary(entry) for entry in _errors(logs)],
        "leadsync queue list --state dead": dead_letters,
    }
    assert not any(problems.values()), pformat(problems, width=100)
    # The chats reached the sandbox's prospect view as transcripts (issue 11).
    listed = await env.sandbox.get(
        f"/admin/properties/{SANDBOX_PROPERTY_ID}/prospects", params={"limit": 10000}
    )
    comments = [
        str(event.get("comments") or "")
        for prospect in listed.json()["prospects"]
        for event in prospect["prospect"]["events"]
    ]
    assert any(c.startswith("DomIQ chat transcript") for c in comments)
