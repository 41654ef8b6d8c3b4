"""The outage row (issue 12): leads POSTed to `leadsync up` (the sandbox in a process of its
own) at a steady rate; after a warm-up every ResMan call answers 503 for the outage while
leads keep arriving; then the faults are cleared (recovery) and the sending stops. It
measures how long after recovery the backlog is in ResMan, and whether jobs spent retries
while the circuit was open."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from bench import stacks
from bench.core import Processes, open_loop
from bench.faults_kit import (
    OUTAGE_FAULTS,
    SERVICE_ENV,
    Chatbot,
    QueueView,
    faults_injected,
    outcome,
    set_faults,
    spent,
    wait_drained,
)

#: How often the queue and circuit are read during the outage.
WATCH_EVERY = 0.25


@dataclass
class Watch:
    """The queue at the outage's start, when the circuit was first seen open, and at the
    outage's end (just before recovery)."""

    start: QueueView
    end: QueueView
    opened: QueueView | None = None
    opened_after: float | None = None

    def figures(self) -> dict[str, Any]:
        """Retries (``retry_count`` increments, summed over jobs) spent during the outage
        before the circuit opened (the failures that tripped it), and after (target 0: a
        wait for the open circuit, or a failure it meets, is rescheduled without one)."""
        opened = self.opened
        return {
            "circuit_opened": int(opened is not None),
            "circuit_open_after_s": self.opened_after,
            "retries_before_open": spent(self.start, opened or self.end),
            "retries_spent_while_open": None if opened is None else spent(opened, self.end),
            "claims_while_open": None if opened is None else spent(opened, self.end, of="attempts"),
        }


async def outage_row(procs: Processes, *, outage: float, rate: float) -> dict[str, Any]:
    tenant = await stacks.start_up(procs, name="up-outage", env=SERVICE_ENV, external_sandbox=True)
    try:
        async with (
            httpx2.AsyncClient(base_url=tenant.api_url, headers=tenant.auth) as api,
            httpx2.AsyncClient(base_url=tenant.sandbox_url, timeout=120) as sandbox,
        ):
            return {"subject": await _run(tenant, api, sandbox, outage, rate), "baseline": None}
    finally:
        stacks.stop(tenant)


async def _run(
    tenant: stacks.Tenant,
    api: httpx2.AsyncClient,
    sandbox: httpx2.AsyncClient,
    outage: float,
    rate: float,
) -> dict[str, Any]:
    # Steady traffic first (a quarter of the outage, at most the breaker's 30 s window), so
    # the window holds successes when ResMan goes away, as in production.
    warm = min(30.0, outage / 4)
    bot = Chatbot(api, tenant.property_id)
    since = datetime.now(UTC) - timedelta(minutes=1)
    count = max(1, int(rate * (warm + outage)))
    sending = asyncio.create_task(open_loop(rate=rate, count=count, send=lambda i, at: bot.send(i)))
    started = time.monotonic()
    try:
        await asyncio.sleep(warm)  # a schedule, not a wait for a state
        watch = await _outage(tenant, sandbox, until=started + warm + outage)
        await set_faults(sandbox, {})
        recovered = time.monotonic()
        found = await wait_drained(
            tenant, sandbox, bot, since=since, sending=lambda: not sending.done()
        )
        drained = time.monotonic() - recovered
        await sending
    finally:
        if not sending.done():
            sending.cancel()
    queue = await QueueView.of(tenant)
    # Unknown when the patience ran out or an accepted lead never reached ResMan.
    complete = not queue.pending and bot.accepted <= found.keys()
    return {
        "drain_after_recovery_s": round(drained, 2) if complete else None,
        **watch.figures(),
        **outcome(bot, found, queue),
        "faults_injected": await faults_injected(sandbox),
    }


async def _outage(tenant: stacks.Tenant, sandbox: httpx2.AsyncClient, *, until: float) -> Watch:
    """Every ResMan call fails until ``until``; the queue is read every WATCH_EVERY s."""
    start = await QueueView.of(tenant)
    await set_faults(sandbox, OUTAGE_FAULTS)
    began = time.monotonic()
    opened: QueueView | None = None
    opened_after: float | None = None
    while (now := time.monotonic()) < until:
        view = await QueueView.of(tenant)
        if opened is None and view.circuit_open:
            opened, opened_after = view, round(now - began, 2)
        await asyncio.sleep(min(WATCH_EVERY, max(0.0, until - time.monotonic())))
    end = await QueueView.of(tenant)
    return Watch(start=start, end=end, opened=opened, opened_after=opened_after)
