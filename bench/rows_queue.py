"""The queue row: no-op jobs/s through leadsync's queue and worker loop on PostgreSQL,
against procrastinate on the same server (each in a database of its own)."""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

from bench import stacks
from bench.core import Processes


def _run(procs: Processes, module: str, *, db: str, jobs: int, concurrency: int) -> float:
    env = stacks.service_env(procs, database_url=db, name=module.rsplit(".", 1)[-1])
    out = procs.run(sys.executable, "-m", module, str(jobs), str(concurrency), env=env)
    result = json.loads(out.strip().splitlines()[-1])
    return round(float(result["jobs"]) / float(result["seconds"]), 1)


def procrastinate_available() -> bool:
    return importlib.util.find_spec("procrastinate") is not None


async def queue_row(
    procs: Processes, *, pg_url: str, jobs: int, concurrency: int
) -> dict[str, Any]:
    with stacks.postgres_database(pg_url) as db:
        ours = _run(procs, "bench.queue_noop", db=db, jobs=jobs, concurrency=concurrency)
    baseline: dict[str, Any] | None = None
    if procrastinate_available():
        with stacks.postgres_database(pg_url) as db:
            theirs = _run(
                procs, "bench.procrastinate_noop", db=db, jobs=jobs, concurrency=concurrency
            )
        baseline = {"jobs_per_s": theirs}
    return {"subject": {"jobs_per_s": ours}, "baseline": baseline}
