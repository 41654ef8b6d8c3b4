"""The process's Prometheus metrics: events counted where they happen.

Outcomes, conflicts and failures are counted from ``lead_sync_log`` writes (``log_sync``) and
latencies from settled jobs, but only once the transaction that recorded them COMMITS (a
rolled-back attempt counted nothing). State (queue depth, lag, circuits, consistency) is not
here: it is read from the database at scrape time (``observability.state``), so it is right
whatever number of processes share the database.

Several processes on one host (``serve`` + ``worker``s): set ``PROMETHEUS_MULTIPROC_DIR`` to
one empty folder for all of them before they start; ``/metrics`` then sums every process's
counters (prometheus-client's multiprocess mode; see the README).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import REGISTRY
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

#: Seconds; the spec's latency target is 30 s, so the buckets are dense around it.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0)
API_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

SYNC_OUTCOMES = Counter(
    "leadsync_sync_outcomes",
    "Sync attempts by direction, sync type and outcome (success | failed).",
    ["direction", "type", "outcome"],
)
SYNC_FAILURES = Counter(
    "leadsync_sync_failures",
    "Failed sync attempts by direction and error category.",
    ["direction", "category"],
)
SYNC_LATENCY = Histogram(
    "leadsync_sync_latency_seconds",
    "to_resman: lead accepted -> in ResMan; from_resman: ResMan change seen -> chatbot "
    "context updated. Path: inline | worker | webhook | poll.",
    ["direction", "path"],
    buckets=LATENCY_BUCKETS,
)
CONFLICTS = Counter(
    "leadsync_conflicts",
    "Conflicts by type (status | data | duplicate) and resolution "
    "(resman_wins | domiq_wins | manual | linked).",
    ["type", "resolution"],
)
RESMAN_REQUESTS = Histogram(
    "leadsync_resman_request_duration_seconds",
    "ResMan API response time by method and outcome (ok or the error kind).",
    ["method", "outcome"],
    buckets=API_BUCKETS,
)
WEBSOCKET_CLIENTS = Gauge(
    "leadsync_websocket_clients",
    "WebSocket clients connected to this deployment.",
    multiprocess_mode="livesum",
)

_PENDING = "leadsync.metrics.pending"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def event_registry() -> CollectorRegistry:
    """The registry to expose: every process's samples in multiprocess mode, else ours."""
    folder = multiprocess_dir()
    if folder is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    return registry


def process_exited() -> None:
    """Drop this process's live gauges from the shared folder (multiprocess mode only)."""
    if multiprocess_dir() is not None:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def on_commit(session: AsyncSession | Session, action: Callable[[], None]) -> None:
    """Run ``action`` when ``session``'s transaction commits; drop it on rollback."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_PENDING, []).append(action)


@event.listens_for(Session, "after_commit")
def _apply_pending(session: Session) -> None:
    for action in session.info.pop(_PENDING, []):
        action()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _conflict_type(details: Mapping[str, Any] | None) -> str:
    return "status" if (details or {}).get("field") == "status" else "data"


def count_log(
    session: AsyncSession,
    *,
    direction: str,
    status: str,
    sync_type: str,
    conflict_resolution: str | None,
    details: Mapping[str, Any] | None,
) -> None:
    """Count one lead_sync_log row (called by ``log_sync``) once its transaction commits."""
    details = details or {}
    actions: list[Callable[[], None]] = []
    if conflict_resolution is not None:
        resolution = "manual" if conflict_resolution == "manual_review" else conflict_resolution
        conflict = CONFLICTS.labels(_conflict_type(details), resolution)
        actions.append(conflict.inc)
    elif status in ("success", "failed"):
        actions.append(SYNC_OUTCOMES.labels(direction, sync_type, status).inc)
        if status == "failed":
            category = str(details.get("category") or "unknown")
            actions.append(SYNC_FAILURES.labels(direction, category).inc)
        elif details.get("action") == "linked":
            # The prospect already existed in ResMan: a duplicate, resolved by linking.
            actions.append(CONFLICTS.labels("duplicate", "linked").inc)
    for action in actions:
        on_commit(session, action)


def observe_latency(*, direction: str, path: str, since: datetime) -> None:
    # Not db.types.utcnow: the ResMan client counts calls here, and resman sits below db.
    seconds = max(0.0, (datetime.now(UTC) - since).total_seconds())
    SYNC_LATENCY.labels(direction, path).observe(seconds)


class _Job(Protocol):
    @property
    def sync_operation(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def sync_data(self) -> dict[str, Any]: ...


class _Outcome(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def error(self) -> str | None: ...


def job_settled(job: _Job, outcome: _Outcome, *, inline: bool) -> None:
    """A job's latency once it succeeded: a push from acceptance, a webhook/feed refresh from
    its arrival (its job is created when the delivery is stored)."""
    if outcome.state != "succeeded" or outcome.error is not None:
        return
    if job.sync_data.get("kind") == "transcript":
        return  # a chat transcript waits its batch window on purpose: not sync latency
    if job.sync_operation == "pull":
        observe_latency(direction="from_resman", path="webhook", since=job.created_at)
    else:
        path = "inline" if inline else "worker"
        observe_latency(direction="to_resman", path=path, since=job.created_at)


def applied_from_resman(
    session: AsyncSession, *, source: str, changed_at: datetime | None, changed: bool
) -> None:
    """A polled change applied: latency from ResMan's modified time, counted at commit."""
    if changed and source == "pull" and changed_at is not None:
        when = changed_at
        on_commit(
            session, lambda: observe_latency(direction="from_resman", path="poll", since=when)
        )


def observe_api_call(*, method: str, seconds: float, outcome: str) -> None:
    """One ResMan call; ``outcome`` as the client classifies it (resman/outcomes.py)."""
    RESMAN_REQUESTS.labels(method, outcome).observe(seconds)


#: Jobs that failed on an error of ours (a bug, a constraint violation): dead-lettered at
#: once, never retried, never counted against ResMan's circuit breaker.
INTERNAL_ERRORS = Counter(
    "leadsync_internal_errors",
    "Sync jobs dead-lettered because of an internal error (a bug), by operation.",
    ["operation"],
)
#: Times an integration's circuit opened (a trip of the failure rate, a failed trial, a pause).
CIRCUIT_OPENED = Counter(
    "leadsync_circuit_opened",
    "Times a ResMan integration's circuit breaker opened, by reason.",
    ["reason"],
)
