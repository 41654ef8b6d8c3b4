"""The fault rows (issue 12): N leads POSTed open-loop to `leadsync up` while 20 % of its
ResMan calls fail (transport faults; or the chaos suite's mix, with 429s), against the same
leads with no faults, each on a fresh `up` with the sandbox in a process of its own (its
faults set through that sandbox's admin API). Throughput is leads in ResMan per second from
the first scheduled send until the last lead is in ResMan (the sandbox's create times)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from bench import stacks
from bench.core import Processes, open_loop
from bench.faults_kit import (
    SERVICE_ENV,
    Chatbot,
    QueueView,
    faults_injected,
    outcome,
    set_faults,
    wait_drained,
)
from bench.rows_push import Clock


async def faults_row(
    procs: Processes, *, count: int, rate: float, faults: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """One repeat: the fault-free baseline, then the same traffic under ``faults``."""
    baseline = await _one_side(procs, count=count, rate=rate, faults=None)
    subject = await _one_side(procs, count=count, rate=rate, faults=faults)
    return {"subject": subject, "baseline": baseline}


async def _one_side(
    procs: Processes, *, count: int, rate: float, faults: dict[str, Any] | None
) -> dict[str, Any]:
    name = "up-faults" if faults else "up-clean"
    tenant = await stacks.start_up(procs, name=name, env=SERVICE_ENV, external_sandbox=True)
    limits = httpx2.Limits(max_connections=count, max_keepalive_connections=200)
    try:
        async with (
            httpx2.AsyncClient(base_url=tenant.api_url, headers=tenant.auth, limits=limits) as api,
            httpx2.AsyncClient(base_url=tenant.sandbox_url, timeout=120) as sandbox,
        ):
            if faults:
                await set_faults(sandbox, faults)
            return await _send_and_drain(tenant, api, sandbox, count=count, rate=rate)
    finally:
        stacks.stop(tenant)


async def _send_and_drain(
    tenant: stacks.Tenant,
    api: httpx2.AsyncClient,
    sandbox: httpx2.AsyncClient,
    *,
    count: int,
    rate: float,
) -> dict[str, Any]:
    bot, clock = Chatbot(api, tenant.property_id), Clock()
    since = datetime.now(UTC) - timedelta(minutes=1)
    scheduled: dict[int, float] = {}

    async def send(i: int, at: float) -> None:
        scheduled[i] = clock.wall(at)
        await bot.send(i)

    await open_loop(rate=rate, count=count, send=send)  # every lead answered or given up
    found = await wait_drained(tenant, sandbox, bot, since=since, sending=lambda: False)
    queue = await QueueView.of(tenant)
    first_send, last_send = scheduled[0], scheduled[count - 1]
    # Drained: until the last lead was in ResMan; not drained (patience ran out): until now,
    # so the rate is an upper bound and drain_s is unknown.
    last_in = max((min(times) for times in found.values()), default=None)
    end = time.time() if queue.pending or last_in is None else last_in
    return {
        "leads_per_s": round(len(found) / (end - first_send), 3),
        "drain_s": None if queue.pending or last_in is None else round(last_in - last_send, 2),
        **outcome(bot, found, queue),
        "faults_injected": await faults_injected(sandbox),
    }
