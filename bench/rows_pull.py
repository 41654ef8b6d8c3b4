"""The pull row: `leadsync sync pull` of N prospects seeded in the sandbox (prospects/s and
the process's peak RSS), then the same window again with nothing changed."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from bench import stacks
from bench.core import LEADSYNC, Proc, Processes, cpu_seconds


def timed_pull(
    procs: Processes, *, tenant: stacks.Tenant, since: datetime, sandbox: Proc
) -> dict[str, Any]:
    """One `sync pull` process: wall seconds (start-up included), peak RSS, and the CPU
    seconds it and the sandbox spent (both on the same cores: which one bounds the pull)."""
    args = [
        LEADSYNC, "sync", "pull", "--json",
        "--integration", str(tenant.integration_id), "--since", since.isoformat(),
    ]  # fmt: skip
    log = procs.workdir / f"pull-{time.monotonic_ns()}.json"
    sandbox_cpu = cpu_seconds(sandbox.pid) or 0.0
    with log.open("wb") as out:
        started = time.monotonic()
        popen = subprocess.Popen(  # noqa: S603
            args, stdout=out, stderr=subprocess.DEVNULL, env={**procs.env, **tenant.env},
            cwd=procs.workdir,
        )  # fmt: skip
        _, status, usage = os.wait4(popen.pid, 0)
        seconds = time.monotonic() - started
        popen.returncode = os.waitstatus_to_exitcode(status)
    sandbox_cpu = (cpu_seconds(sandbox.pid) or 0.0) - sandbox_cpu
    if popen.returncode != 0:
        raise RuntimeError(f"sync pull failed ({popen.returncode}): {log.read_text()[-500:]}")
    # ru_maxrss is in KiB on Linux.
    return {
        "seconds": seconds,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "sandbox_cpu_s": sandbox_cpu,
        "log": log,
    }


async def pull_row(procs: Processes, *, count: int, pg_url: str | None) -> dict[str, Any]:
    sandbox_url, sandbox = await stacks.start_sandbox(procs)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        since = now - timedelta(days=3)
        async with httpx2.AsyncClient(base_url=sandbox_url, timeout=600) as client:
            seeded = await client.post(
                f"/admin/properties/{stacks.SANDBOX_PROPERTY_ID}/prospects/bulk",
                json={
                    "count": count,
                    "modified_from": (now - timedelta(days=2)).isoformat(),
                    "modified_to": (now - timedelta(hours=1)).isoformat(),
                    "seed": 7,
                },
            )
            seeded.raise_for_status()
        if pg_url is None:
            return _pulls(procs, sandbox=(sandbox_url, sandbox), since=since, count=count, db=None)
        with stacks.postgres_database(pg_url) as db:
            return _pulls(procs, sandbox=(sandbox_url, sandbox), since=since, count=count, db=db)
    finally:
        sandbox.stop()


def _pulls(
    procs: Processes,
    *,
    sandbox: tuple[str, Proc],
    since: datetime,
    count: int,
    db: str | None,
) -> dict[str, Any]:
    sandbox_url, sandbox_proc = sandbox
    env = stacks.service_env(procs, database_url=db, name="pull")
    tenant = stacks.provision(procs, env=env, sandbox_url=sandbox_url)
    first = timed_pull(procs, tenant=tenant, since=since, sandbox=sandbox_proc)
    again = timed_pull(procs, tenant=tenant, since=since, sandbox=sandbox_proc)
    return {
        "subject": {
            "prospects_per_s": round(count / first["seconds"], 1),
            "peak_rss_mb": first["peak_rss_mb"],
            "repull_per_s": round(count / again["seconds"], 1),
            "repull_peak_rss_mb": again["peak_rss_mb"],
            # CPU per prospect (µs): the pull process's own, and the sandbox's serving it.
            "cpu_us_per_prospect": round(first["cpu_s"] * 1e6 / count, 1),
            "sandbox_cpu_us_per_prospect": round(first["sandbox_cpu_s"] * 1e6 / count, 1),
            "repull_cpu_us_per_prospect": round(again["cpu_s"] * 1e6 / count, 1),
            "repull_sandbox_cpu_us_per_prospect": round(again["sandbox_cpu_s"] * 1e6 / count, 1),
        },
        "baseline": None,
    }
