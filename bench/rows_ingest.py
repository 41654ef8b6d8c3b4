"""Rows of the inbound side: signed webhook ingest (`serve`, SQLite) against a bare FastAPI
app with one SQLite INSERT, an office change reaching the chatbot context on `leadsync up`
(the sandbox in a process of its own, its staff webhooks wired to up's receiver), and the
idle memory of `leadsync up` as the product starts by default (the bundled sandbox in it)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx2
from standardwebhooks import Webhook

from bench import stacks
from bench.core import Processes, closed_loop, free_port, ms, percentile, rss_mb, wait_http
from bench.rows_push import Leads

CONTEXT_TIMEOUT = 10.0


def signed(secret: str, body: bytes) -> dict[str, str]:
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body.decode()),
        "content-type": "application/json",
    }


def delivery(i: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps(
        {
            "lead_id": str(uuid.uuid4()),
            "status": "prospect",
            "updated_fields": {"status": "prospect", "n": i},
            "timestamp": now,
            "updated_by": "bench",
            "sync_direction": "from_resman",
            "property_id": stacks.SANDBOX_PROPERTY_ID,
        }
    ).encode()


async def hammer(url: str, *, count: int, concurrency: int, headers: Any) -> dict[str, Any]:
    """``count`` POSTs, ``concurrency`` at a time: requests/s and latency percentiles."""
    latencies: list[float] = []
    failures = 0
    limits = httpx2.Limits(max_connections=concurrency)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as client:

        async def op(i: int) -> None:
            nonlocal failures
            body = delivery(i)
            started = time.monotonic()
            response = await client.post(url, content=body, headers=headers(body))
            if response.status_code in (200, 202):
                latencies.append(time.monotonic() - started)
            else:
                failures += 1

        t0 = time.monotonic()
        await closed_loop(concurrency=concurrency, count=count, op=op)
        seconds = time.monotonic() - t0
    return {
        "per_s": round(len(latencies) / seconds, 1),
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "failures": failures,
    }


async def webhook_row(procs: Processes, *, count: int, concurrency: int) -> dict[str, Any]:
    sandbox_url, sandbox = await stacks.start_sandbox(procs)
    try:
        env = stacks.service_env(procs, database_url=None, name="ingest")
        tenant = stacks.provision(procs, env=env, sandbox_url=sandbox_url)
        await stacks.start_service(procs, env=env, tenant=tenant, name="serve", worker=False)
        try:
            subject = await hammer(
                tenant.webhook_url,
                count=count,
                concurrency=concurrency,
                headers=lambda body: signed(tenant.webhook_secret, body),
            )
        finally:
            stacks.stop(tenant)
    finally:
        sandbox.stop()
    port = free_port()
    bare = procs.start(
        "bare", sys.executable, "-m", "uvicorn", "bench.bare_app:app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        env={"BENCH_BARE_DB": str(procs.workdir / f"bare-{uuid.uuid4().hex[:6]}.db")},
    )  # fmt: skip
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", proc=bare)
        baseline = await hammer(
            f"http://127.0.0.1:{port}/hook",
            count=count,
            concurrency=concurrency,
            headers=lambda body: {"content-type": "application/json"},
        )
    finally:
        bare.stop()
    return {"subject": subject, "baseline": baseline}


async def _synced(api: httpx2.AsyncClient, tenant: stacks.Tenant, count: int) -> list[str]:
    """``count`` leads posted and pushed; their conversation ids."""
    leads, ids = Leads(), []
    for i in range(count):
        r = await api.post("/api/resman/leads", json=leads.body(i, tenant.property_id))
        r.raise_for_status()
        ids.append(r.json()["conversation_id"])
    pending = set(ids)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for cid in sorted(pending):
            if (await api.get(f"/api/resman/leads/{cid}/context")).json().get("resman_lead_id"):
                pending.discard(cid)
        await asyncio.sleep(0.2)
    return [cid for cid in ids if cid not in pending]


async def office_row(procs: Processes, *, changes: int) -> dict[str, Any]:
    """On `leadsync up` against the sandbox's own process: a staff note in the sandbox (its
    signed webhook goes to up's receiver), then how long until the chatbot's context of that
    lead shows a change (polled every 5 ms)."""
    tenant = await stacks.start_up(procs, name="up-office", external_sandbox=True)
    latencies: list[float] = []
    timeouts = 0
    try:
        async with (
            httpx2.AsyncClient(base_url=tenant.api_url, headers=tenant.auth, timeout=30) as api,
            httpx2.AsyncClient(base_url=tenant.sandbox_url, timeout=30) as office,
        ):
            ids = await _synced(api, tenant, min(changes, 10))
            for n in range(changes):
                cid = ids[n % len(ids)]
                before = (await api.get(f"/api/resman/leads/{cid}/context")).json()
                prospect_id = before["resman_lead_id"]
                started = time.monotonic()
                note = {"text": f"bench note {n} {uuid.uuid4().hex[:6]}"}
                path = f"/admin/properties/{stacks.SANDBOX_PROPERTY_ID}/prospects/{prospect_id}"
                (await office.post(f"{path}/notes", json=note)).raise_for_status()
                while time.monotonic() - started < CONTEXT_TIMEOUT:
                    now = (await api.get(f"/api/resman/leads/{cid}/context")).json()
                    if now.get("context") != before.get("context"):
                        latencies.append(time.monotonic() - started)
                        break
                    await asyncio.sleep(0.005)
                else:
                    timeouts += 1
    finally:
        stacks.stop(tenant)
    return {
        "subject": {
            "p50_ms": ms(percentile(latencies, 50)),
            "p99_ms": ms(percentile(latencies, 99)),
            "timeouts": timeouts,
        },
        "baseline": None,
    }


async def idle_row(procs: Processes, *, settle: float) -> dict[str, Any]:
    tenant = await stacks.start_up(procs, name="up-idle")
    try:
        await asyncio.sleep(settle)  # let start-up garbage go and the loops go idle
        rss = rss_mb(tenant.procs[0].pid)
    finally:
        stacks.stop(tenant)
    return {"subject": {"rss_mb": rss}, "baseline": None}
