"""The benchmarks still run and report well-formed results (`make bench`'s smoke version).

Each row runs once at its smallest size as the real processes `make bench` starts. Nothing
here looks at how fast anything was: only that every row produced its figures, its baseline
(where it has one), a ratio, the machine's load, and the table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("LEADSYNC_TEST_POSTGRES_URL")
SQLITE_ROWS = [
    "push_sqlite_25",
    "webhook_ingest_sqlite",
    "drain_sqlite",
    "pull_sqlite",
    "office_to_context",
    "idle_rss_up",
]
POSTGRES_ROWS = ["push_pg_25", "queue_noop_pg", "pull_pg"]
#: Rows that wait for a drain under ResMan faults: the drain's deadline is cut short here
#: (BENCH_DRAIN_PATIENCE); a row whose queue has not drained by then still reports.
FAULT_ROWS = ["faults_sqlite", "faults_429_sqlite", "outage_sqlite"]
#: The smallest sizes that still exercise every step of a row.
TINY = {
    "BENCH_PUSH_SECONDS": "1",
    "BENCH_INGEST_REQUESTS": "16",
    "BENCH_DRAIN_LEADS": "8",
    "BENCH_QUEUE_JOBS": "20",
    "BENCH_PULL_PROSPECTS": "50",
    "BENCH_OFFICE_CHANGES": "2",
    "BENCH_IDLE_SETTLE": "0.5",
    "BENCH_FAULT_LEADS": "20",
    "BENCH_OUTAGE_SECONDS": "4",
    "BENCH_DRAIN_PATIENCE": "120",
}


def run_bench(row: str, tmp_path: Path, *, timeout: float = 280) -> tuple[dict[str, Any], str]:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update(TINY)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--repeats",
            "1",
            "--rows",
            row,
            "--json",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def check_row(report: dict[str, Any], stdout: str, name: str) -> None:
    row = report["rows"][name]
    headline = row["headline"]
    assert isinstance(row["subject"][headline]["median"], int | float), row["subject"]
    for figure in row["subject"].values():
        assert set(figure) == {"median", "min", "max"}
    if row["baseline"] is not None:
        assert headline in row["baseline"]
        assert set(row["baseline"]) <= set(row["subject"])
        assert isinstance(row["ratio"], float)
    else:
        assert row["ratio"] is None
    assert len(row["loadavg_before"]) == len(row["loadavg_after"]) == 3
    assert len(row["repeats"]) == 1
    assert report["repeats"] == 1
    assert report["machine"]["cpus"]
    assert name in stdout
    assert "baseline" in stdout


@pytest.mark.slow
@pytest.mark.timeout(300)  # start-ups of several processes on a loaded 2-core machine
@pytest.mark.parametrize("name", SQLITE_ROWS)
def test_bench_row_runs_on_sqlite(name: str, tmp_path: Path) -> None:
    report, stdout = run_bench(name, tmp_path)
    check_row(report, stdout, name)


@pytest.mark.slow
@pytest.mark.timeout(600)  # two `up` start-ups and two drains (each cut off at 120 s)
@pytest.mark.parametrize("name", FAULT_ROWS)
def test_bench_fault_row_runs(name: str, tmp_path: Path) -> None:
    report, stdout = run_bench(name, tmp_path, timeout=560)
    check_row(report, stdout, name)
    subject = report["rows"][name]["subject"]
    for figure in ("accepted", "pending_at_end", "duplicated", "dead_letters", "post_errors"):
        assert isinstance(subject[figure]["median"], int), (figure, subject)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="needs LEADSYNC_TEST_POSTGRES_URL")
@pytest.mark.parametrize("name", POSTGRES_ROWS)
def test_bench_row_runs_on_postgres(name: str, tmp_path: Path) -> None:
    report, stdout = run_bench(name, tmp_path)
    check_row(report, stdout, name)
    if name == "queue_noop_pg" and importlib.util.find_spec("procrastinate") is not None:
        # procrastinate is a bench-only dependency: where `make bench` installed it, the row
        # must compare with it.
        assert report["rows"][name]["baseline"] is not None


def test_bench_unknown_row_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--rows", "nope", "--json", str(tmp_path / "x.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown rows: nope" in done.stderr
