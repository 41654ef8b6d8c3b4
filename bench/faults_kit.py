"""What the fault rows share: issue 12's fault scenario (the chaos suite's), a chatbot that
sends a lead until it gets a 2xx, what the sandbox holds, and leadsync's queue read straight
from its SQLite file (read-only; WAL mode, so reading never blocks leadsync's writers)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2

from bench import stacks
from bench.rows_push import Leads

#: 20 % of ResMan calls fail with transport faults, in equal shares: a 5xx, a hang past
#: leadsync's read timeout after which ResMan still does the work, and a dropped
#: connection. Issue 12's partial faults: they must not collapse throughput. Fixed seed.
TRANSPORT_FAULTS: dict[str, Any] = {
    "seed": 12,
    "http_error_rate": 0.067,
    "http_error_codes": [500, 502, 503],
    "timeout_rate": 0.067,
    "hang_seconds": 4.0,
    "reset_rate": 0.066,
}
#: The chaos suite's mix (tests/chaos/procs.py uses this one): 5 % each of a 5xx, a 429 with
#: Retry-After, a hang and a dropped connection. A 429 pauses the whole account for its Retry-After
#: (docs/RESMAN_PROTOCOL.md: honour it), so here ResMan's throttling sets the pace.
MIXED_FAULTS: dict[str, Any] = {
    "seed": 12,
    "http_error_rate": 0.05,
    "http_error_codes": [500, 502, 503],
    "rate_limit_rate": 0.05,
    "retry_after_seconds": 0.5,
    "timeout_rate": 0.05,
    "hang_seconds": 4.0,
    "reset_rate": 0.05,
}
#: ResMan down: every wire call answers 503 (admin calls are never faulted).
OUTAGE_FAULTS: dict[str, Any] = {"seed": 12, "http_error_rate": 1.0, "http_error_codes": [503]}
#: leadsync's settings in the fault rows and the chaos suite: a 2 s ResMan read timeout (so a
#: hang is a timeout) and back-off capped at 15 s (not 300, so the few leads unlucky many
#: times in a row do not stretch the drain to many minutes); the number of retries is the
#: product's.
SERVICE_ENV = {"LEADSYNC_RESMAN_READ_TIMEOUT": "2", "LEADSYNC_RETRY_CAP_SECONDS": "15"}
#: One POST waits this long for its answer before the chatbot sends it again.
POST_TIMEOUT = 120.0
#: The chatbot gives a lead up after this long without a 2xx (it is then not accepted).
GIVE_UP_SECONDS = 600.0
#: The generous deadline of a drain (a wait for a state, never a timing assertion);
#: BENCH_DRAIN_PATIENCE overrides it (the smoke test keeps it short).
DRAIN_PATIENCE = 900.0
#: An empty queue for this long with leads still missing in ResMan means they are lost.
SETTLED_SECONDS = 15.0


async def set_faults(sandbox: httpx2.AsyncClient, faults: dict[str, Any]) -> None:
    """Replace the sandbox's fault configuration (``{}``: no faults)."""
    (await sandbox.put("/admin/faults", json=faults)).raise_for_status()


async def faults_injected(sandbox: httpx2.AsyncClient) -> int:
    answer = await sandbox.get("/admin/stats")
    answer.raise_for_status()
    counts: dict[str, int] = answer.json()["faults_injected"]
    return sum(counts.values())


async def prospects_by_email(
    sandbox: httpx2.AsyncClient, since: datetime
) -> dict[str, list[float]]:
    """email -> the create times (epoch seconds) of every sandbox prospect with that email."""
    answer = await sandbox.get(
        f"/admin/properties/{stacks.SANDBOX_PROPERTY_ID}/prospects",
        params={"modified_since": since.isoformat(), "limit": 100_000},
    )
    answer.raise_for_status()
    found: dict[str, list[float]] = {}
    for p in answer.json()["prospects"]:
        if p.get("email"):
            found.setdefault(p["email"], []).append(
                datetime.fromisoformat(p["created_at"]).timestamp()
            )
    return found


@dataclass
class Chatbot:
    """Sends each lead until a 2xx (accepted) or a 4xx, as the chaos suite's chatbot does: a
    5xx or no answer is sent again, same conversation id and body (idempotent)."""

    api: httpx2.AsyncClient
    property_id: uuid.UUID
    leads: Leads = field(default_factory=Leads)
    accepted: set[str] = field(default_factory=set)
    #: Answers other than 2xx, and requests with no answer (each one, retries included).
    errors: int = 0
    in_flight: int = 0

    async def send(self, i: int) -> None:
        body = self.leads.body(i, self.property_id)
        deadline = time.monotonic() + GIVE_UP_SECONDS
        self.in_flight += 1
        try:
            while time.monotonic() < deadline:
                try:
                    answer = await self.api.post(
                        "/api/resman/leads", json=body, timeout=POST_TIMEOUT
                    )
                except httpx2.TransportError:
                    self.errors += 1
                    await asyncio.sleep(0.5)
                    continue
                if answer.is_success:
                    self.accepted.add(self.leads.email(i))
                    return
                self.errors += 1
                if answer.status_code < 500:
                    return
                await asyncio.sleep(0.5)
        finally:
            self.in_flight -= 1

    def ours(self, found: dict[str, list[float]]) -> dict[str, list[float]]:
        """The prospects of this chatbot's leads (other emails are not ours)."""
        return {e: times for e, times in found.items() if f".{self.leads.tag}." in e}


@dataclass(frozen=True)
class QueueView:
    """leadsync's queue at one moment: per job its spent retries (``retry_count``: a failure
    while the circuit is closed; a wait for an open circuit leaves it as it is) and claims
    (``attempts``), how many jobs are pending, dead, and whether the circuit is open."""

    retries: dict[str, int]
    attempts: dict[str, int]
    pending: int
    dead: int
    #: ``resman_integration.circuit_open_until`` is set (open, or half-open: not yet closed).
    circuit_open: bool

    @classmethod
    def read(cls, db: Path) -> QueueView:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN")  # one snapshot for both reads
            (opened,) = conn.execute(
                "SELECT count(*) FROM resman_integration WHERE circuit_open_until IS NOT NULL"
            ).fetchone()
            jobs = conn.execute("SELECT id, state, retry_count, attempts FROM lead_sync_queue")
            rows = jobs.fetchall()
            conn.execute("COMMIT")
        finally:
            conn.close()
        return cls(
            retries={str(r[0]): int(r[2]) for r in rows},
            attempts={str(r[0]): int(r[3]) for r in rows},
            pending=sum(r[1] in ("queued", "running") for r in rows),
            dead=sum(r[1] == "dead" for r in rows),
            circuit_open=bool(opened),
        )

    @classmethod
    async def of(cls, tenant: stacks.Tenant) -> QueueView:
        db = Path(tenant.env["LEADSYNC_DATA_DIR"]) / "leadsync.db"
        return await asyncio.to_thread(cls.read, db)


def spent(before: QueueView, after: QueueView, *, of: str = "retries") -> int:
    """Retries (or claims) the jobs spent between two views; jobs new since count from 0."""
    old, new = getattr(before, of), getattr(after, of)
    return sum(max(0, n - old.get(job, 0)) for job, n in new.items())


async def wait_drained(
    tenant: stacks.Tenant,
    sandbox: httpx2.AsyncClient,
    bot: Chatbot,
    *,
    since: datetime,
    sending: Callable[[], bool],
) -> dict[str, list[float]]:
    """Wait until nothing is being sent, the queue has nothing pending and every accepted lead
    is in ResMan (or the queue stayed empty SETTLED_SECONDS with leads missing: lost), or
    DRAIN_PATIENCE passed (the queue then still holds jobs: figures say so, nothing raises);
    returns this chatbot's prospects.
    """
    deadline = time.monotonic() + float(os.environ.get("BENCH_DRAIN_PATIENCE", DRAIN_PATIENCE))
    empty_since: float | None = None
    while True:
        queue = await QueueView.of(tenant)
        now = time.monotonic()
        # The sandbox shares the machine's CPUs with leadsync: list its prospects only once
        # the queue is empty, so the polling does not take the CPU the drain needs.
        if sending() or queue.pending:
            empty_since = None
        else:
            empty_since = empty_since or now
            found = bot.ours(await prospects_by_email(sandbox, since))
            if bot.accepted <= found.keys() or now - empty_since >= SETTLED_SECONDS:
                return found
        if now > deadline:
            return bot.ours(await prospects_by_email(sandbox, since))
        await asyncio.sleep(0.25)


def outcome(bot: Chatbot, found: dict[str, list[float]], queue: QueueView) -> dict[str, Any]:
    """The ledger check at the end: accepted leads missing in ResMan (lost: only once the
    queue has nothing pending, else they may still come), emails there more than once."""
    missing = len(bot.accepted - found.keys())
    return {
        "accepted": len(bot.accepted),
        "pending_at_end": queue.pending,
        "lost": None if queue.pending else missing,
        "duplicated": sum(len(times) > 1 for times in found.values()),
        "dead_letters": queue.dead,
        "post_errors": bot.errors,
    }
