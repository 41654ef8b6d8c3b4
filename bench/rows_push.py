"""Push rows: POST /api/resman/leads under open-loop load (SQLite `up`, PostgreSQL
`serve` + `worker`) against direct MITS creates to the same sandbox, and the drain of a
queue of leads against direct creates at the worker's concurrency. The sandbox always runs
in a process of its own (as ResMan is remote in production), so leadsync's process pays
only for its own work, as the baseline's does."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2

from bench import stacks
from bench.core import Processes, closed_loop, ms, open_loop, percentile, wait_for
from leadsync.config import Settings
from leadsync.mapping.lead import LeadFields
from leadsync.mapping.to_resman import first_contact_event, lead_to_prospect
from leadsync.resman.client import ResManClient
from leadsync.resman.errors import ResManError, ResManTimeoutError
from leadsync.sandbox.seed import CHATBOT_SOURCE_NAME, prospect_source_id

#: A request still unanswered after this long counts as a timeout (and is cut off).
REQUEST_TIMEOUT = 10.0
CHATBOT_SOURCE = prospect_source_id(stacks.SANDBOX_PROPERTY_ID, CHATBOT_SOURCE_NAME)


@dataclass
class Leads:
    """Unique names, emails and phones for one batch (no batch matches another's)."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    exchange: int = field(default_factory=lambda: random.randrange(200, 999))

    def email(self, i: int) -> str:
        return f"bench.{self.tag}.{i}@example.org"

    def phone(self, i: int) -> str:
        return f"(512) {self.exchange:03d}-{i % 10000:04d}"

    def body(self, i: int, property_id: uuid.UUID) -> dict[str, Any]:
        return {
            "conversation_id": str(uuid.uuid4()),
            "lead_data": {
                "first_name": "Bench",
                "last_name": f"Lead{self.tag}{i}",
                "email": self.email(i),
                "phone": self.phone(i),
                "property_id": str(property_id),
                "source": "chatbot",
                "initial_message": "Any 2br in March?",
                "lead_score": 80,
                "apartment_size_preference": "2br",
            },
        }

    def prospect(self, i: int) -> Any:
        fields = LeadFields(
            first_name="Bench", last_name=f"Lead{self.tag}{i}", email=self.email(i),
            phone=f"+1512{self.exchange:03d}{i % 10000:04d}",
        )  # fmt: skip
        event = first_contact_event(
            at=datetime.now(UTC), transaction_source=CHATBOT_SOURCE, narrative=None
        )
        return lead_to_prospect(fields, events=[event])


class Clock:
    """Monotonic schedule times mapped to wall-clock (the sandbox stamps prospects in UTC)."""

    def __init__(self) -> None:
        self.mono0 = time.monotonic()
        self.wall0 = time.time()

    def wall(self, mono: float) -> float:
        return self.wall0 + (mono - self.mono0)


def latency_stats(latencies: list[float], timeouts: int, errors: int) -> dict[str, Any]:
    # A request cut off at the timeout took at least that long: it stays in the percentiles
    # (a p99 of REQUEST_TIMEOUT means "at least"), or a stalled server would look fast.
    latencies = latencies + [REQUEST_TIMEOUT] * timeouts
    return {
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "timeouts": timeouts,
        # Refused or dropped connections (an overloaded machine): counted, not measured.
        "errors": errors,
    }


async def direct_creates(*, sandbox_url: str, rate: float, count: int) -> dict[str, Any]:
    """The baseline: MITS creates straight to the sandbox on the same open-loop schedule."""
    leads, latencies, timeouts, errors = Leads(), [], 0, 0
    client = ResManClient.from_settings(Settings(), base_url=sandbox_url)

    async def send(i: int, at: float) -> None:
        nonlocal timeouts, errors
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await client.post_lead(creds=stacks.SANDBOX_CREDS, prospect=leads.prospect(i))
            latencies.append(time.monotonic() - at)
        except (TimeoutError, ResManTimeoutError):
            timeouts += 1
        except ResManError:
            errors += 1

    async with client:
        await open_loop(rate=rate, count=count, send=send)
    return latency_stats(latencies, timeouts, errors)


async def _prospect_times(sandbox: httpx2.AsyncClient, since: datetime) -> dict[str, float]:
    """email -> when the sandbox created the prospect (epoch seconds)."""
    response = await sandbox.get(
        f"/admin/properties/{stacks.SANDBOX_PROPERTY_ID}/prospects",
        params={"modified_since": since.isoformat(), "limit": 100_000},
    )
    response.raise_for_status()
    return {
        p["email"]: datetime.fromisoformat(p["created_at"]).timestamp()
        for p in response.json()["prospects"]
        if p.get("email")
    }


async def post_leads(
    tenant: stacks.Tenant, *, rate: float, count: int, settle: float
) -> dict[str, Any]:
    """POST ``count`` leads at ``rate``/s; POST latency and timeouts from the scheduled send,
    then time-to-prospect (the sandbox's create time minus the scheduled send)."""
    leads, clock, latencies, timeouts, errors = Leads(), Clock(), [], 0, 0
    scheduled: dict[str, float] = {}
    since = datetime.now(UTC)
    limits = httpx2.Limits(max_connections=count, max_keepalive_connections=200)
    async with (
        httpx2.AsyncClient(base_url=tenant.api_url, headers=tenant.auth, limits=limits) as api,
        httpx2.AsyncClient(base_url=tenant.sandbox_url, timeout=60) as sandbox,
    ):

        async def send(i: int, at: float) -> None:
            nonlocal timeouts, errors
            scheduled[leads.email(i)] = clock.wall(at)
            try:
                r = await api.post(
                    "/api/resman/leads", json=leads.body(i, tenant.property_id),
                    timeout=REQUEST_TIMEOUT,
                )  # fmt: skip
                r.raise_for_status()
                latencies.append(time.monotonic() - at)
            except httpx2.TimeoutException:
                timeouts += 1
            except httpx2.HTTPError:
                errors += 1

        await open_loop(rate=rate, count=count, send=send)

        async def all_there() -> bool:
            return len(await _prospect_times(sandbox, since)) >= count

        await wait_for(all_there, within=settle, every=1.0)
        created = await _prospect_times(sandbox, since)
    to_prospect = [created[e] - at for e, at in scheduled.items() if e in created]
    return {
        **latency_stats(latencies, timeouts, errors),
        "to_prospect_p50_ms": ms(percentile(to_prospect, 50)),
        "to_prospect_p99_ms": ms(percentile(to_prospect, 99)),
        "missing_after_settle": count - len(to_prospect),
    }


async def push_row(
    procs: Processes, *, backend: str, rate: float, count: int, pg_url: str | None
) -> dict[str, dict[str, Any]]:
    """One repeat: the direct baseline (SQLite: to a sandbox of its own), then the leads API
    on a fresh stack."""
    settle = 20.0
    if backend == "sqlite":
        async with stacks.own_sandbox(procs, name="baseline-sandbox") as baseline_url:
            base = await direct_creates(sandbox_url=baseline_url, rate=rate, count=count)
        tenant = await stacks.start_up(procs, name="up", external_sandbox=True)
        try:
            subject = await post_leads(tenant, rate=rate, count=count, settle=settle)
        finally:
            stacks.stop(tenant)
        return {"subject": subject, "baseline": base}
    assert pg_url is not None
    with stacks.postgres_database(pg_url) as db:
        sandbox_url, sandbox = await stacks.start_sandbox(procs)
        try:
            env = stacks.service_env(procs, database_url=db, name="pg")
            tenant = stacks.provision(procs, env=env, sandbox_url=sandbox_url)
            await stacks.start_service(procs, env=env, tenant=tenant, name="serve", worker=True)
            try:
                base = await direct_creates(sandbox_url=sandbox_url, rate=rate, count=count)
                subject = await post_leads(tenant, rate=rate, count=count, settle=settle)
            finally:
                stacks.stop(tenant)
        finally:
            sandbox.stop()
    return {"subject": subject, "baseline": base}


def _rate(created: dict[str, float], leads: Leads) -> float | None:
    """Prospects per second between the first and the last of ``leads`` the sandbox made."""
    times = sorted(at for email, at in created.items() if f".{leads.tag}." in email)
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return round((len(times) - 1) / (times[-1] - times[0]), 1)


async def drain_row(procs: Processes, *, count: int, concurrency: int) -> dict[str, dict[str, Any]]:
    """``count`` leads queued while pushing is paused, then resumed; the baseline is
    ``count`` direct creates, ``concurrency`` at a time, to a sandbox of its own. Both rates
    come from the sandboxes' own create times (first to last), so no start-up or polling
    delay counts."""
    leads, direct = Leads(), Leads()
    since = datetime.now(UTC)
    async with stacks.own_sandbox(procs, name="baseline-sandbox") as baseline_url:
        client = ResManClient.from_settings(Settings(), base_url=baseline_url)

        async def create(i: int) -> None:
            await client.post_lead(creds=stacks.SANDBOX_CREDS, prospect=direct.prospect(i))

        async with client, httpx2.AsyncClient(base_url=baseline_url, timeout=60) as sandbox:
            await closed_loop(concurrency=concurrency, count=count, op=create)
            baseline = await _prospect_times(sandbox, since)
    tenant = await stacks.start_up(procs, name="up-drain", external_sandbox=True)
    try:
        async with (
            httpx2.AsyncClient(base_url=tenant.api_url, headers=tenant.auth, timeout=60) as api,
            httpx2.AsyncClient(base_url=tenant.sandbox_url, timeout=60) as sandbox,
        ):
            procs.cli("sync", "pause", env=tenant.env)

            async def post(i: int) -> None:
                r = await api.post("/api/resman/leads", json=leads.body(i, tenant.property_id))
                r.raise_for_status()

            await closed_loop(concurrency=8, count=count, op=post)
            procs.cli("sync", "resume", env=tenant.env)

            async def drained() -> bool:
                created = await _prospect_times(sandbox, since)
                return sum(f".{leads.tag}." in e for e in created) >= count

            await wait_for(drained, within=600, every=0.5)
            created = await _prospect_times(sandbox, since)
    finally:
        stacks.stop(tenant)
    return {
        "subject": {
            "leads_per_s": _rate(created, leads),
            "missing": count - sum(f".{leads.tag}." in e for e in created),
        },
        "baseline": {"leads_per_s": _rate(baseline, direct)},
    }
