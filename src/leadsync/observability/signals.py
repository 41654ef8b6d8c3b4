"""The five alert signals, computed like Prometheus would from a history of metric samples.

A ``Snapshot`` is every sample of the exposed metrics at one instant. Counters are read as
increases over the window (a decrease is a process restart: the new value is the increase);
the latency quantile is interpolated inside the histogram bucket, as ``histogram_quantile``
does. Each signal also carries its PromQL, for the exported rules file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.registry import CollectorRegistry

Labels = frozenset[tuple[str, str]]
Samples = Mapping[tuple[str, Labels], float]


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    samples: Samples


def sample(registries: Iterable[CollectorRegistry], *, at: float) -> Snapshot:
    samples: dict[tuple[str, Labels], float] = {}
    for registry in registries:
        for family in registry.collect():
            for s in family.samples:
                key = (s.name, frozenset(s.labels.items()))
                samples[key] = samples.get(key, 0.0) + s.value
    return Snapshot(at, samples)


def _select(
    samples: Samples, name: str, match: Callable[[dict[str, str]], bool]
) -> dict[Labels, float]:
    return {labels: v for (n, labels), v in samples.items() if n == name and match(dict(labels))}


def increase(
    history: Sequence[Snapshot],
    window: float,
    name: str,
    match: Callable[[dict[str, str]], bool] = lambda _: True,
) -> float | None:
    """Sum of the matching series' increase over the last ``window`` seconds; None without
    two snapshots in it."""
    now = history[-1]
    inside = [s for s in history if s.at >= now.at - window]
    if len(inside) < 2:
        return None
    first = _select(inside[0].samples, name, match)
    total = 0.0
    for labels, value in _select(now.samples, name, match).items():
        before = first.get(labels, 0.0)
        total += value - before if value >= before else value
    return total


def _ratio(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or whole <= 0:
        return None
    return part / whole


def _outcome(outcome: str) -> Callable[[dict[str, str]], bool]:
    return lambda labels: labels.get("outcome") == outcome


def _sum(*parts: float | None) -> float | None:
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def _failed(history: Sequence[Snapshot], window: float) -> float | None:
    return increase(history, window, "leadsync_sync_outcomes_total", _outcome("failed"))


def _succeeded(history: Sequence[Snapshot], window: float) -> float | None:
    return increase(history, window, "leadsync_sync_outcomes_total", _outcome("success"))


def _conflicts(history: Sequence[Snapshot], window: float) -> float | None:
    return increase(history, window, "leadsync_conflicts_total")


def attempts(history: Sequence[Snapshot], window: float) -> float | None:
    """The failure rate's denominator: settled attempts in the window."""
    return _sum(_failed(history, window), _succeeded(history, window))


def conflicts_and_syncs(history: Sequence[Snapshot], window: float) -> float | None:
    """The conflict rate's denominator."""
    return _sum(_conflicts(history, window), _succeeded(history, window))


def failure_rate(history: Sequence[Snapshot], window: float) -> float | None:
    return _ratio(_failed(history, window), attempts(history, window))


def conflict_rate(history: Sequence[Snapshot], window: float) -> float | None:
    return _ratio(_conflicts(history, window), conflicts_and_syncs(history, window))


def api_errors(history: Sequence[Snapshot], window: float) -> float | None:
    return increase(
        history,
        window,
        "leadsync_resman_request_duration_seconds_count",
        lambda labels: labels.get("outcome") != "ok",
    )


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """``histogram_quantile``: cumulative (upper bound, count) pairs, +Inf last."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower  # Prometheus answers the highest finite bound
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def _le(bound: float) -> Callable[[dict[str, str]], bool]:
    return lambda labels: float(labels["le"]) == bound


def sync_latency_p99(history: Sequence[Snapshot], window: float) -> float | None:
    name = "leadsync_sync_latency_seconds_bucket"
    bounds = sorted({float(dict(labels)["le"]) for (n, labels) in history[-1].samples if n == name})
    cumulative = [(bound, increase(history, window, name, _le(bound))) for bound in bounds]
    if any(count is None for _, count in cumulative):
        return None
    return quantile(0.99, [(b, c or 0.0) for b, c in cumulative])


def sync_lag(history: Sequence[Snapshot], window: float) -> float | None:
    """The lowest lag seen over the whole window (so: above the threshold all along); None
    until the history covers the window."""
    now = history[-1]
    if history[0].at > now.at - window:
        return None
    inside = [s for s in history if s.at >= now.at - window]
    return min(
        max(_select(s.samples, "leadsync_sync_lag_seconds", lambda _: True).values(), default=0.0)
        for s in inside
    )


@dataclass(frozen=True, slots=True)
class Signal:
    compute: Callable[[Sequence[Snapshot], float], float | None]
    #: PromQL; ``{window}`` is replaced by the rule's window (e.g. ``5m``).
    promql: str
    #: True: the condition must hold for the whole window (exported as ``for:``).
    sustained: bool = False
    #: A rate's denominator (how many events it is computed from) and its PromQL: a rule's
    #: ``min_events`` keeps it quiet while there are fewer (1 conflict in 3 syncs is no rate).
    volume: Callable[[Sequence[Snapshot], float], float | None] | None = None
    volume_promql: str | None = None


SIGNALS: dict[str, Signal] = {
    "failure_rate": Signal(
        failure_rate,
        'sum(increase(leadsync_sync_outcomes_total{{outcome="failed"}}[{window}])) / '
        'sum(increase(leadsync_sync_outcomes_total{{outcome=~"success|failed"}}[{window}]))',
        volume=attempts,
        volume_promql='sum(increase(leadsync_sync_outcomes_total{{outcome=~"success|failed"}}'
        "[{window}]))",
    ),
    "sync_latency_p99": Signal(
        sync_latency_p99,
        "histogram_quantile(0.99, sum by (le) "
        "(increase(leadsync_sync_latency_seconds_bucket[{window}])))",
    ),
    "api_errors": Signal(
        api_errors,
        'sum(increase(leadsync_resman_request_duration_seconds_count{{outcome!="ok"}}[{window}]))',
    ),
    "conflict_rate": Signal(
        conflict_rate,
        "sum(increase(leadsync_conflicts_total[{window}])) / "
        "(sum(increase(leadsync_conflicts_total[{window}])) + "
        'sum(increase(leadsync_sync_outcomes_total{{outcome="success"}}[{window}])))',
        volume=conflicts_and_syncs,
        volume_promql="(sum(increase(leadsync_conflicts_total[{window}])) + "
        'sum(increase(leadsync_sync_outcomes_total{{outcome="success"}}[{window}])))',
    ),
    "sync_lag": Signal(sync_lag, "max(leadsync_sync_lag_seconds)", sustained=True),
}
