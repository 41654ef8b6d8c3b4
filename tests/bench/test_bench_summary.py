"""How the bench sums up a row's repeats: medians with their spread, and the ratio as the
median of each repeat's own subject / baseline (the two run seconds apart; repeats minutes
apart, on a machine whose speed drifts)."""

from __future__ import annotations

from typing import Any

from bench.__main__ import ROWS, summarize
from bench.report import render_table

WEBHOOK = next(row for row in ROWS if row.name == "webhook_ingest_sqlite")
IDLE = next(row for row in ROWS if row.name == "idle_rss_up")


def _run(ours: float, theirs: float | None) -> dict[str, Any]:
    baseline = None if theirs is None else {"per_s": theirs}
    return {"subject": {"per_s": ours}, "baseline": baseline, "loadavg": [0.5, 0.5, 0.5]}


def test_the_ratio_pairs_each_repeat_with_its_own_baseline() -> None:
    # A fast minute, then two slow ones: each repeat alone says 0.75, 0.7 and 0.8.
    summary = summarize(WEBHOOK, [_run(1800, 2400), _run(1050, 1500), _run(1200, 1500)])
    assert summary["ratio"] == 0.75
    assert summary["ratio_spread"] == {"median": 0.75, "min": 0.7, "max": 0.8}
    # The medians' ratio mixes a slow repeat's subject with another's baseline.
    assert summary["ratio_of_medians"] == 0.8
    assert summary["subject"]["per_s"] == {"median": 1200, "min": 1050, "max": 1800}


def test_a_row_without_a_baseline_has_no_ratio() -> None:
    summary = summarize(IDLE, [{"subject": {"rss_mb": 130.0}, "baseline": None}])
    assert summary["ratio"] is None
    assert summary["ratio_of_medians"] is None


def test_the_table_shows_the_ratio_with_its_spread() -> None:
    summary = summarize(WEBHOOK, [_run(1800, 2400), _run(1050, 1500), _run(1200, 1500)])
    report = {
        "repeats": 3,
        "machine": {"cpus": 2},
        "rows": {WEBHOOK.name: {**summary, "loadavg_after": [1.0, 0.5, 0.25]}},
    }
    (line,) = [line for line in render_table(report).splitlines() if "per_s" in line]
    assert "0.75 (0.7-0.8)" in line
