"""Run as a process: procrastinate with no-op jobs on one PostgreSQL database (the queue
row's baseline; procrastinate is a bench-only dependency, see bench/requirements.lock).

``python -m bench.procrastinate_noop JOBS CONCURRENCY`` (database from
LEADSYNC_DATABASE_URL): applies procrastinate's schema, defers JOBS no-op jobs, then runs a
worker with ``concurrency`` until the queue is empty. Prints ``{"jobs": n, "seconds": s}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import procrastinate
from sqlalchemy.engine import make_url

url = make_url(os.environ["LEADSYNC_DATABASE_URL"]).set(drivername="postgresql")
app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=url.render_as_string(hide_password=False))
)


async def _noop(i: int) -> None:
    del i


# Registered by a call, not a decorator: where procrastinate is not installed (the test
# venv), mypy sees it as Any, and a decorator would make the function untyped.
noop = app.task(name="noop")(_noop)


async def main(jobs: int, concurrency: int) -> dict[str, float]:
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        for start in range(0, jobs, 500):
            batch: list[dict[str, Any]] = [{"i": i} for i in range(start, min(jobs, start + 500))]
            await noop.batch_defer_async(*batch)
        started = time.monotonic()
        await app.run_worker_async(
            concurrency=concurrency, wait=False, install_signal_handlers=False
        )
        seconds = time.monotonic() - started
    return {"jobs": jobs, "seconds": seconds}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))))
