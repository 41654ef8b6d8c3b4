"""The chaos suite at CI size: real processes under faults, kills, a ResMan outage and cut
database connections (PostgreSQL) or a full disk (SQLite, as root), then the invariant
checker over both sides.

Each backend is one `python -m chaos --size ci` run (what `make chaos` runs at full size); the
run exits 1 on any breach and prints why. Here the test also reads its figures, so a run
that did not do the harm it claims (no kill, no fault, no replayed webhook) fails too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("LEADSYNC_TEST_POSTGRES_URL")
#: A guard against a hung run, not a speed check.
RUN_LIMIT_SECONDS = 1500


def run_chaos(backend: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "chaos.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    env["PYTHONPATH"] = str(ROOT / "tests")
    if POSTGRES_URL:
        env["LEADSYNC_TEST_POSTGRES_URL"] = POSTGRES_URL
    args = ["--size", "ci", "--backend", backend, "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "chaos", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    [figures] = json.loads(out.read_text())
    result: dict[str, Any] = figures
    return result


def _assert_real_chaos(figures: dict[str, Any]) -> None:
    assert figures["persons"] > 0
    assert figures["accepted_conversations"] >= figures["persons"]
    assert figures["faults_injected"] > 0
    assert figures["kills"] > 0
    assert figures["returning"] > 0
    assert figures["shared_phones"] > 0
    assert figures["duplicates_sent"] > 0
    assert figures["webhooks_replayed"] > 0 or figures["office_edits"] == 0
    assert figures["lost"] == figures["duplicated"] == 0
    assert not any(figures["breaches"].values()), figures["breaches"]


@pytest.mark.slow
def test_chaos_up_on_sqlite(tmp_path: Path) -> None:
    figures = run_chaos("sqlite", tmp_path)
    _assert_real_chaos(figures)
    if os.geteuid() == 0:  # the full disk needs a tmpfs of its own (root); CI runs as root
        assert figures["disk_full_seconds"] > 0


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs LEADSYNC_TEST_POSTGRES_URL")
def test_chaos_serve_and_two_workers_on_postgres(tmp_path: Path) -> None:
    figures = run_chaos("postgres", tmp_path)
    _assert_real_chaos(figures)
    assert figures["db_interruptions"] > 0
