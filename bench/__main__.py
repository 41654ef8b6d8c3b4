"""`make bench` / `python -m bench`: every row with its baseline in the same run.

Each row is repeated (3 times by default; baseline and subject alternate) and reported as
medians with min/max, the ratio subject / baseline of its headline figure (the median of
each repeat's own ratio, with their min/max), and the machine's load average around it.
Sizes: full by default, small with BENCH_QUICK=1 (or --quick).
Everything runs as real processes on 127.0.0.1. The ResMan sandbox runs in a process of its
own, as ResMan is a remote server in production, so leadsync's process pays only for its own
work (idle_rss_up alone measures `leadsync up`'s default start, its bundled sandbox in it).
PostgreSQL rows use a database of their own on BENCH_POSTGRES_URL (default:
LEADSYNC_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.core import ROW_LIMIT_SECONDS, Processes, loadavg, spread
from bench.faults_kit import MIXED_FAULTS, TRANSPORT_FAULTS
from bench.report import render_markdown, render_table
from bench.rows_faults import faults_row
from bench.rows_ingest import idle_row, office_row, webhook_row
from bench.rows_outage import outage_row
from bench.rows_pull import pull_row
from bench.rows_push import drain_row, push_row
from bench.rows_queue import queue_row
from leadsync.telemetry.logging import configure_logging

Runner = Callable[[Processes, "Sizes", str | None], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Sizes:
    quick: bool
    push_seconds: float
    ingest_requests: int
    drain_leads: int
    queue_jobs: int
    pull_prospects: int
    office_changes: int
    idle_settle: float
    fault_leads: int
    outage_seconds: float

    @classmethod
    def make(cls, *, quick: bool) -> Sizes:
        env = os.environ.get
        return cls(
            quick=quick,
            push_seconds=float(env("BENCH_PUSH_SECONDS", "2" if quick else "20")),
            ingest_requests=int(env("BENCH_INGEST_REQUESTS", "40" if quick else "2000")),
            drain_leads=int(env("BENCH_DRAIN_LEADS", "20" if quick else "1000")),
            queue_jobs=int(env("BENCH_QUEUE_JOBS", "50" if quick else "3000")),
            pull_prospects=int(env("BENCH_PULL_PROSPECTS", "200" if quick else "2000")),
            office_changes=int(env("BENCH_OFFICE_CHANGES", "3" if quick else "50")),
            idle_settle=float(env("BENCH_IDLE_SETTLE", "2" if quick else "10")),
            fault_leads=int(env("BENCH_FAULT_LEADS", "60" if quick else "1500")),
            outage_seconds=float(env("BENCH_OUTAGE_SECONDS", "10" if quick else "120")),
        )


@dataclass(frozen=True)
class Row:
    name: str
    what: str
    #: The figure the ratio compares, and whether more of it is better.
    headline: str
    higher_is_better: bool
    postgres: bool
    run: Runner


def _push(backend: str, rate: float) -> Runner:
    async def run(procs: Processes, sizes: Sizes, pg: str | None) -> dict[str, Any]:
        count = max(1, int(rate * sizes.push_seconds))
        return await push_row(procs, backend=backend, rate=rate, count=count, pg_url=pg)

    return run


ROWS: list[Row] = [
    Row("push_sqlite_25", "POST /api/resman/leads on `leadsync up` (sandbox in its own "
        "process), 25 leads/s vs direct MITS creates", "p99_ms", False, False,
        _push("sqlite", 25)),
    Row("push_sqlite_50", "same, 50 leads/s", "p99_ms", False, False, _push("sqlite", 50)),
    Row("push_pg_25", "PostgreSQL `serve` + `worker`, 25 leads/s vs direct MITS creates",
        "p99_ms", False, True, _push("postgresql", 25)),
    Row("webhook_ingest_sqlite", "signed webhook ingest (`serve`, SQLite, 32 concurrent) vs "
        "bare FastAPI + one SQLite INSERT", "per_s", True, False,
        lambda p, s, pg: webhook_row(p, count=s.ingest_requests, concurrency=8 if s.quick else 32)),
    Row("drain_sqlite", "drain of queued leads (`leadsync up`, sandbox in its own process) vs "
        "direct creates at the worker's concurrency", "leads_per_s", True, False,
        lambda p, s, pg: drain_row(p, count=s.drain_leads, concurrency=8 if s.quick else 64)),
    Row("queue_noop_pg", "queue, no-op jobs, PostgreSQL vs procrastinate on the same server",
        "jobs_per_s", True, True,
        lambda p, s, pg: queue_row(p, pg_url=pg or "", jobs=s.queue_jobs,
                                   concurrency=8 if s.quick else 64)),
    Row("pull_sqlite", "initial `sync pull` of N seeded prospects, then the unchanged re-pull",
        "prospects_per_s", True, False,
        lambda p, s, pg: pull_row(p, count=s.pull_prospects, pg_url=None)),
    Row("pull_pg", "same on PostgreSQL", "prospects_per_s", True, True,
        lambda p, s, pg: pull_row(p, count=s.pull_prospects, pg_url=pg)),
    Row("office_to_context", "office change -> chatbot context via webhook (`leadsync up`, "
        "sandbox in its own process)",
        "p99_ms", False, False, lambda p, s, pg: office_row(p, changes=s.office_changes)),
    Row("idle_rss_up", "idle RSS of `leadsync up` as started by default (bundled sandbox "
        "in its process)", "rss_mb", False, False,
        lambda p, s, pg: idle_row(p, settle=s.idle_settle)),
    Row("faults_sqlite", "leads at 25/s into `leadsync up` (sandbox in its own process) with "
        "20 % ResMan transport faults (5xx, hangs, resets) vs the same without faults",
        "leads_per_s", True, False,
        lambda p, s, pg: faults_row(p, count=s.fault_leads, rate=25, faults=TRANSPORT_FAULTS)),
    Row("faults_429_sqlite", "the same with the chaos suite's mix: 5 % each of 5xx, 429 + "
        "Retry-After, hangs, resets", "leads_per_s", True, False,
        lambda p, s, pg: faults_row(p, count=s.fault_leads, rate=25, faults=MIXED_FAULTS)),
    Row("outage_sqlite", "ResMan outage (every call 503) under 5 leads/s on `leadsync up` "
        "(sandbox in its own process), then recovery", "drain_after_recovery_s", False, False,
        lambda p, s, pg: outage_row(p, outage=s.outage_seconds, rate=5)),
]  # fmt: skip


def _ratio(row: Row, subject: dict[str, Any], baseline: dict[str, Any] | None) -> float | None:
    if baseline is None:
        return None
    ours, theirs = subject.get(row.headline), baseline.get(row.headline)
    # A subject at 0 (no lead through under faults) is a ratio of 0, not a missing one.
    if ours is None or not theirs:
        return None
    return round(float(ours) / float(theirs), 3)


def summarize(row: Row, repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians and spread per figure over the repeats, and the ratio.

    The ratio is the median of each repeat's own ratio: a repeat runs the baseline and the
    subject a few seconds apart, while the repeats are minutes apart, and this machine's speed
    drifts by ±20 % over minutes (a shared 2-core VM: the sandbox's own CPU per request moved
    as much between runs of one commit). The ratio of the medians pairs a fast run's
    baseline with a slow run's subject; it stays in the JSON as ``ratio_of_medians``."""

    def figures(side: str) -> dict[str, Any] | None:
        runs = [r[side] for r in repeats if r.get(side) is not None]
        if not runs:
            return None
        return {key: spread([run.get(key) for run in runs]) for key in runs[0]}

    subject, baseline = figures("subject"), figures("baseline")
    medians = {k: v["median"] for k, v in (subject or {}).items()}
    base_medians = {k: v["median"] for k, v in baseline.items()} if baseline else None
    paired = [
        ratio
        for run in repeats
        if run.get("subject") is not None
        and (ratio := _ratio(row, run["subject"], run.get("baseline"))) is not None
    ]
    ratios = {k: None if v is None else round(v, 3) for k, v in spread(paired).items()}
    return {
        "what": row.what,
        "headline": row.headline,
        "higher_is_better": row.higher_is_better,
        "subject": subject,
        "baseline": baseline,
        "ratio": ratios["median"],
        "ratio_spread": ratios,
        "ratio_of_medians": _ratio(row, medians, base_medians),
        "repeats": repeats,
    }


async def run_row(row: Row, *, sizes: Sizes, repeats: int, pg: str | None) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    load_before = loadavg()
    for _ in range(repeats):
        workdir = Path(tempfile.mkdtemp(prefix=f"leadsync-bench-{row.name}-"))
        procs = Processes(workdir, env=_child_env())
        try:
            async with asyncio.timeout(ROW_LIMIT_SECONDS):
                runs.append({**await row.run(procs, sizes, pg), "loadavg": loadavg()})
        finally:
            procs.stop_all()
            if os.environ.get("BENCH_KEEP"):
                print(f"  kept {workdir} (BENCH_KEEP)", flush=True)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    return {**summarize(row, runs), "loadavg_before": load_before, "loadavg_after": loadavg()}


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env["LEADSYNC_LOG_FORMAT"] = "json"
    return env


def postgres_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get(
        "LEADSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rows", default=os.environ.get("BENCH_ROWS", ""),
                        help="comma-separated row names (default: all)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("BENCH_QUICK")))
    parser.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", "0")))
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument(
        "--json", type=Path, default=Path(os.environ.get("BENCH_JSON", "bench-results.json"))
    )
    return parser.parse_args(argv)  # fmt: skip


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # SIGTERM cancels the run like Ctrl-C does, so every row's processes are stopped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    # The bench's own ResMan client (the direct baselines) logs every call at DEBUG otherwise.
    configure_logging(level="WARNING", fmt="console")
    wanted = [n for n in args.rows.split(",") if n]
    unknown = set(wanted) - {r.name for r in ROWS}
    if unknown:
        print(f"unknown rows: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    rows = [r for r in ROWS if (not wanted or r.name in wanted)]
    if args.no_postgres:
        rows = [r for r in rows if not r.postgres]
    sizes = Sizes.make(quick=args.quick)
    repeats = args.repeats or (1 if args.quick else 3)
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": " ".join(["python -m bench", *argv]),
        "sizes": sizes.__dict__, "repeats": repeats, "rows": {}, "errors": {},
    }  # fmt: skip
    failed: list[str] = []
    for row in rows:
        print(f"==> {row.name}: {row.what}", file=sys.stderr, flush=True)
        pg = postgres_url() if row.postgres else None
        try:
            report["rows"][row.name] = await run_row(row, sizes=sizes, repeats=repeats, pg=pg)
        except Exception as exc:  # one broken row must not hide the others' figures
            failed.append(row.name)
            report["errors"][row.name] = f"{type(exc).__name__}: {exc}"
            print(f"!! {row.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        args.json.write_text(json.dumps(report, indent=2))
    report["finished_at"] = datetime.now(UTC).isoformat()
    args.json.write_text(json.dumps(report, indent=2))
    print(render_table(report))
    args.json.with_suffix(".md").write_text(render_markdown(report) + "\n")
    print(f"JSON: {args.json}; Markdown: {args.json.with_suffix('.md')}")
    if failed:
        print(f"failed rows: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
