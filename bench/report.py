"""The bench's table: one line per figure, subject and baseline medians with their spread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _cell(figure: dict[str, Any] | None) -> str:
    if not figure or figure.get("median") is None:
        return "-"
    median, low, high = figure["median"], figure["min"], figure["max"]
    if low == high:
        return f"{median:g}"
    return f"{median:g} ({low:g}-{high:g})"


def _lines(report: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str, str]]:
    """Each figure of each row as (row, figure, leadsync, baseline, ratio, load average);
    the row name, and its load average, only on the row's first line."""
    for name, row in report["rows"].items():
        subject = row["subject"] or {}
        baseline = row["baseline"] or {}
        for n, (key, figure) in enumerate(subject.items()):
            headline = key == row["headline"] and row["ratio"] is not None
            ratio = _cell(row["ratio_spread"]) if headline else ""
            load = "/".join(f"{x:g}" for x in row["loadavg_after"]) if n == 0 else ""
            first = name if n == 0 else ""
            yield first, key, _cell(figure), _cell(baseline.get(key)), str(ratio), load


def render_table(report: dict[str, Any]) -> str:
    lines = [
        f"leadsync bench, {report['repeats']} repeat(s), {report['machine']['cpus']} CPUs",
        f"{'row':<24} {'figure':<22} {'leadsync (min-max)':<26} {'baseline (min-max)':<26} "
        f"{'ratio (min-max)':<22} loadavg",
    ]
    for name, key, ours, theirs, ratio, load in _lines(report):
        lines.append(f"{name:<24} {key:<22} {ours:<26} {theirs:<26} {ratio:<22} {load}")
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    """The same figures as a Markdown table (what the README's Performance section shows)."""
    lines = [
        "| row | figure | leadsync, median (min-max) | baseline, same run "
        "| ratio, median of the repeats' (min-max) | load avg |",
        "|---|---|---|---|---|---|",
    ]
    for name, key, ours, theirs, ratio, load in _lines(report):
        lines.append(f"| {name} | {key} | {ours} | {theirs} | {ratio} | {load} |")
    return "\n".join(lines)
