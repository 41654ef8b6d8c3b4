"""One chaos run on one backend: start the processes, send the traffic while the chaos
schedule harms them, drain, replay the webhooks, drain again, then compare both sides.

The schedule is tied to the traffic's progress (a kill "at 40 %" happens once 40 % of the
leads are done), so the same run scales from CI size to full size.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx2
import psycopg
from bench.core import Processes, closed_loop, loadavg

from bench import stacks
from chaos.disk import SmallDisk, small_disk
from chaos.invariants import Ledger, Sides, lost_and_duplicated, run_checks
from chaos.procs import Sandbox, Service, provision
from chaos.traffic import Chatbot, WebhookRelay
from leadsync.sandbox.server import SandboxServer

#: Generous deadlines for states (a loaded 2-core machine); a wait ends when its state comes.
DRAIN_PATIENCE = 900.0
SETTLE_PATIENCE = 180.0


@dataclass(frozen=True)
class Size:
    leads: int
    kills: int
    outage_seconds: float
    db_interrupt_seconds: float
    #: SQLite: how long up's disk stays full (0: no full disk; needs root, see chaos.disk).
    disk_full_seconds: float = 0.0
    concurrency: int = 8


CI = {
    "postgres": Size(leads=60, kills=3, outage_seconds=15, db_interrupt_seconds=4),
    "sqlite": Size(
        leads=30, kills=2, outage_seconds=10, db_interrupt_seconds=0, disk_full_seconds=8
    ),
}
FULL = {
    "postgres": Size(leads=10_000, kills=20, outage_seconds=180, db_interrupt_seconds=30),
    "sqlite": Size(
        leads=2_000, kills=5, outage_seconds=60, db_interrupt_seconds=0, disk_full_seconds=30
    ),
}


@dataclass
class Figures:
    backend: str
    leads: int
    accepted_conversations: int = 0
    persons: int = 0
    returning: int = 0
    shared_phones: int = 0
    duplicates_sent: int = 0
    office_edits: int = 0
    webhooks_replayed: int = 0
    faults_injected: int = 0
    kills: int = 0
    outage_seconds: float = 0.0
    db_interruptions: int = 0
    disk_full_seconds: float = 0.0
    lost: int = 0
    duplicated: int = 0
    conflicts: int = 0
    dead_letters: int = 0
    drain_seconds: float = 0.0
    run_seconds: float = 0.0
    loadavg: list[float] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    breaches: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.breaches.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Progress:
    """Leads done so far; lets a chaos step wait for a share of the traffic."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self._changed = asyncio.Condition()

    async def step(self) -> None:
        async with self._changed:
            self.done += 1
            self._changed.notify_all()

    async def reached(self, share: float) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.done >= share * self.total)


def say(message: str) -> None:
    """Progress on stderr (a long run shows where it is)."""
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


Harm = tuple[float, str, Callable[[], Awaitable[None]]]


def schedule(
    service: Service, sandbox: Sandbox, size: Size, rng: random.Random, disk: SmallDisk | None
) -> list[Harm]:
    """(share of the traffic, what, harm): random kills, one outage, one database cut (on
    PostgreSQL) or one full disk (on SQLite)."""
    steps: list[Harm] = []
    for _ in range(size.kills):
        slot, pause = rng.randrange(2), rng.uniform(0.0, 2.0)
        steps.append(
            (
                rng.uniform(0.05, 0.95),
                "SIGKILL " + ("up" if service.backend == "sqlite" else f"worker{slot}"),
                functools.partial(service.kill_one, slot, restart_after=pause),
            )
        )
    steps.append((0.35, "ResMan outage", lambda: sandbox.outage(size.outage_seconds)))
    if size.db_interrupt_seconds:
        steps.append(
            (
                0.6,
                "database connections cut",
                lambda: service.interrupt_database(seconds=size.db_interrupt_seconds),
            )
        )
    if disk is not None and size.disk_full_seconds:
        steps.append(
            (0.7, "disk full", lambda: service.disk_full(disk, seconds=size.disk_full_seconds))
        )
    return steps


async def traffic(chatbot: Chatbot, size: Size, steps: list[Harm]) -> None:
    progress = Progress(size.leads)

    async def lead(i: int) -> None:
        await chatbot.lead(i)
        await progress.step()

    async def harm(share: float, what: str, act: Callable[[], Awaitable[None]]) -> None:
        await progress.reached(share)
        say(f"{progress.done}/{size.leads} leads: {what}")
        await act()

    await asyncio.gather(
        closed_loop(concurrency=size.concurrency, count=size.leads, op=lead),
        *(harm(*step) for step in steps),
    )


async def drain(service: Service, sandbox: Sandbox) -> float:
    """Seconds until no job is queued or running and the sandbox has no webhook to send."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_PATIENCE:
        stats = await asyncio.to_thread(service.queue_stats)
        if stats["queued"] == 0 and stats["running"] == 0 and not await sandbox.webhooks_pending():
            return time.monotonic() - started
        await asyncio.sleep(2.0)
    raise AssertionError(f"the queue did not drain within {DRAIN_PATIENCE} s")


async def collect(chatbot: Chatbot, service: Service, sandbox: Sandbox) -> Sides:
    """ResMan's prospects, leadsync's view of every accepted conversation, the dead letters."""
    listed = await chatbot.sandbox.get(
        f"/admin/properties/{stacks.SANDBOX_PROPERTY_ID}/prospects", params={"limit": 100_000}
    )
    listed.raise_for_status()
    views: dict[str, dict[str, Any] | None] = {}
    conversations = [c for p in chatbot.ledger.persons.values() for c in p.conversations]

    async def view(i: int) -> None:
        answer = await chatbot.api.get(f"/api/resman/leads/{conversations[i]}/context")
        views[conversations[i]] = answer.json() if answer.is_success else None

    await closed_loop(concurrency=8, count=len(conversations), op=view)
    dead = await asyncio.to_thread(
        service.cli_json, "queue", "list", "--state", "dead", "--limit", "10000"
    )
    return Sides(prospects=listed.json()["prospects"], leadsync=views, dead_letters=dead)


async def settle(
    chatbot: Chatbot, service: Service, sandbox: Sandbox
) -> tuple[Sides, dict[str, list[str]]]:
    """Compare both sides; while a check fails, compare again until SETTLE_PATIENCE (an
    office change whose webhooks gave up arrives with the next poll). A lost or duplicated
    lead never settles, so a real breach still fails."""
    deadline = time.monotonic() + SETTLE_PATIENCE
    while True:
        sides = await collect(chatbot, service, sandbox)
        breaches = run_checks(chatbot.ledger, sides)
        if not any(breaches.values()) or time.monotonic() > deadline:
            return sides, breaches
        say(f"not settled yet: { {k: len(v) for k, v in breaches.items() if v} }")
        await asyncio.sleep(5.0)


@contextlib.contextmanager
def database(backend: str, pg_url: str | None) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    assert pg_url, "the PostgreSQL run needs a server URL"
    with stacks.postgres_database(pg_url) as url:
        yield url


async def stand_in_autovacuum(database_url: str | None, *, every: float = 60.0) -> None:
    """``VACUUM ANALYZE`` every ``every`` seconds when the server does not vacuum by itself
    (until cancelled). This machine's PostgreSQL runs with autovacuum off, production's with
    it on (``leadsync doctor`` checks it): without it the queue's dead rows and missing
    statistics slowed one claim to 15 s at 6,600 queued jobs, and the run measured that."""
    if database_url is None:
        return
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SHOW autovacuum").fetchone()
    if row is not None and row[0] == "on":
        return
    say(f"the server's autovacuum is off: VACUUM ANALYZE every {every:.0f} s stands in for it")
    while True:
        await asyncio.sleep(every)
        # The database may be away (a restart being simulated): then the next round.
        with contextlib.suppress(psycopg.OperationalError):
            await asyncio.to_thread(_vacuum, database_url)


def _vacuum(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("VACUUM ANALYZE")


async def run_backend(
    procs: Processes, *, backend: str, size: Size, pg_url: str | None, seed: int
) -> Figures:
    rng = random.Random(seed)
    started = time.monotonic()
    sandbox = Sandbox(procs, seed=seed)
    await sandbox.start()
    with (
        database(backend, pg_url) as db_url,
        small_disk(procs.workdir, wanted=bool(size.disk_full_seconds)) as disk,
    ):
        if size.disk_full_seconds and disk is None:
            say("full disk skipped: mounting a tmpfs of its own needs root")
        tenant = provision(
            procs,
            backend=backend,
            database_url=db_url,
            sandbox_url=sandbox.url,
            data_dir=None if disk is None else disk.path,
        )
        relay = WebhookRelay(secret=tenant.webhook_secret)
        service = Service(procs, tenant.env, backend)
        async with SandboxServer(relay.app) as relay_server:
            await sandbox.set_webhook(f"{relay_server.base_url}/hook", tenant.webhook_secret)
            relay.target = (
                f"{service.url}/api/resman/webhooks/lead-update?integration={tenant.integration_id}"
            )
            await service.start()
            async with (
                httpx2.AsyncClient(base_url=service.url, headers=tenant.auth, timeout=120) as api,
                httpx2.AsyncClient(base_url=sandbox.url, timeout=30) as admin,
            ):
                chatbot = Chatbot(api, admin, tenant.property_id, stacks.SANDBOX_PROPERTY_ID, rng)
                say(f"{backend}: {size.leads} leads under chaos")
                upkeep = asyncio.create_task(stand_in_autovacuum(db_url))
                try:
                    await traffic(chatbot, size, schedule(service, sandbox, size, rng, disk))
                    say("traffic done; draining")
                    drain_seconds = await drain(service, sandbox)
                finally:
                    upkeep.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await upkeep
                say(f"drained in {drain_seconds:.0f} s; replaying {len(relay.kept)} webhooks")
                await relay.replay(chatbot.ledger)
                await drain(service, sandbox)
                say("comparing both sides")
                sides, breaches = await settle(chatbot, service, sandbox)
                lost, duplicated = lost_and_duplicated(chatbot.ledger, sides)
                conflicts = await asyncio.to_thread(
                    service.cli_json, "conflicts", "list", "--status", "all", "--limit", "10000"
                )
                figures = _figures(chatbot.ledger, backend=backend, size=size)
                figures.faults_injected = await sandbox.faults_injected()
            await relay.close()
        figures.kills, figures.db_interruptions = service.kills, service.db_interruptions
        figures.disk_full_seconds = 0.0 if disk is None else disk.full_seconds
        figures.lost, figures.duplicated, figures.conflicts = lost, duplicated, len(conflicts)
        figures.dead_letters, figures.drain_seconds = (
            len(sides.dead_letters),
            round(drain_seconds, 1),
        )
        figures.breaches = breaches
        figures.run_seconds = round(time.monotonic() - started, 1)
        figures.loadavg = loadavg()
        procs.stop_all()  # before the database is dropped
    return figures


def _figures(ledger: Ledger, *, backend: str, size: Size) -> Figures:
    return Figures(
        backend=backend,
        leads=size.leads,
        accepted_conversations=ledger.accepted_conversations(),
        persons=sum(1 for p in ledger.persons.values() if p.conversations),
        returning=ledger.returning,
        shared_phones=ledger.shared_phones,
        duplicates_sent=ledger.duplicates_sent,
        office_edits=ledger.office_edits,
        webhooks_replayed=ledger.webhooks_replayed,
        outage_seconds=size.outage_seconds,
        answers=dict(sorted(ledger.answers.items())),
    )
