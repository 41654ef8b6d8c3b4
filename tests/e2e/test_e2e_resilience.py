"""Resilience against the real sandbox: internal errors, the circuit breaker under an outage
(two runners sharing the database), business errors and partial faults."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from leadsync.db.models import LeadSyncQueue
from leadsync.sync.queue import circuit_store
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.breaker import BreakerSettings
from leadsync.sync.queue.policy import RetryPolicy
from leadsync.sync.runner import JobRunner
from leadsync.sync.worker import Worker
from stack import Stack, lead_body, wait_until

#: These tests play out an outage and recovery through the whole stack; on a loaded 2-core
#: machine that takes longer than the suite's default per-test timeout.
pytestmark = pytest.mark.timeout(400)

#: Small and fast, so an outage plays out in seconds on a loaded machine.
FAST = RetryPolicy(
    ambiguous_retry_floor=0.5,
    breaker=BreakerSettings(
        window_seconds=60.0,
        minimum_calls=5,
        failure_rate=0.5,
        open_seconds=0.2,
        open_max_seconds=0.4,
        trial_seconds=10.0,
    ),
)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _jobs(stack: Stack) -> list[LeadSyncQueue]:
    async with stack.runtime.sessionmaker() as session:
        return await queue.list_jobs(session, limit=10_000)


async def _open_until(stack: Stack) -> object:
    async with stack.runtime.sessionmaker() as session:
        return await circuit_store.open_until(session, integration_id=stack.a.integration_id)


async def _post(stack: Stack, n: int) -> None:
    async def one(i: int) -> None:
        response = await stack.api.post(
            "/api/resman/leads",
            json=lead_body(stack.a.property_id, n=i),
            headers=stack.auth(stack.a),
        )
        assert response.status_code == 201, response.text

    await asyncio.gather(*(one(i) for i in range(n)))


@pytest.fixture
async def second_runner(stack: Stack) -> AsyncIterator[JobRunner]:
    """Another worker on the same database, with its own breaker window."""
    runner = JobRunner(
        sessionmaker=stack.runtime.sessionmaker,
        targets=stack.runtime.targets,
        worker_id=f"second-{uuid.uuid4().hex[:6]}",
        policy=FAST,
    )
    stop = asyncio.Event()
    worker = Worker(runner=runner, sessionmaker=stack.runtime.sessionmaker, concurrency=8)
    task = asyncio.create_task(worker.run(stop))
    yield runner
    stop.set()
    await task


async def test_an_internal_error_is_dead_lettered_at_once_and_never_pauses_resman(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.runtime.runner.policy = FAST

    async def bug(*_: Any, **__: Any) -> Any:
        # A bug whose message quotes personal data, like SQLAlchemy's IntegrityError does.
        raise RuntimeError("UNIQUE failed for Maria Gomez007, maria.gomez007@gmail.com")

    monkeypatch.setattr("leadsync.sync.runner.plan_push", bug)
    before = _metric("leadsync_internal_errors_total", operation="push")
    bugs = FAST.breaker.minimum_calls * 2  # enough to trip the breaker, were they counted
    with capture_logs() as logs:
        await _post(stack, bugs)

        async def all_dead() -> bool:
            jobs = await _jobs(stack)
            return len(jobs) == bugs and all(j.state == "dead" for j in jobs)

        await wait_until(all_dead, within=240)
    jobs = await _jobs(stack)
    # At once: one attempt, no retry, and not as if ResMan were down.
    assert {(j.attempts, j.retry_count, j.error_category) for j in jobs} == {(1, 0, "internal")}
    for job in jobs:
        assert job.last_error is not None
        assert "Gomez" not in job.last_error
        assert "gmail" not in job.last_error
        assert "error id" in job.last_error
    assert _metric("leadsync_internal_errors_total", operation="push") - before == bugs
    # Internal failures (twice the breaker's minimum) never opened the circuit.
    assert await _open_until(stack) is None
    assert stack.runtime.runner.circuits.breaker(stack.a.integration_id).failure_rate(0.0) == 0.0
    errors = [e for e in logs if e["event"] == "job failed on an internal error"]
    assert len(errors) == bugs
    error_id = errors[0]["error_id"]
    assert any(error_id in (j.last_error or "") for j in jobs)
    assert isinstance(errors[0]["exc_info"], RuntimeError)  # the traceback goes to the log


async def test_outage_spends_no_retry_while_open_and_drains_after_one_trial(
    stack: Stack, second_runner: JobRunner
) -> None:
    stack.runtime.runner.policy = FAST
    await stack.set_faults(http_error_rate=1.0, http_error_codes=[503])
    opened = _metric("leadsync_circuit_opened_total", reason="failure_rate")
    await _post(stack, 8)

    def trials(n: int) -> Callable[[], Awaitable[bool]]:
        base = _metric("leadsync_circuit_opened_total", reason="trial_failed")

        async def check() -> bool:
            return _metric("leadsync_circuit_opened_total", reason="trial_failed") >= base + n

        return check

    # The failure rate tripped it, then some trials failed.
    await wait_until(trials(2), within=180)
    assert _metric("leadsync_circuit_opened_total", reason="failure_rate") > opened
    retries = {j.id: j.retry_count for j in await _jobs(stack)}
    calls = await _requests(stack)
    trials_before = _metric("leadsync_circuit_opened_total", reason="trial_failed")
    await wait_until(trials(4), within=180)
    # While the circuit is open no job spends a retry, and each cool-down lets ONE call out.
    assert {j.id: j.retry_count for j in await _jobs(stack)} == retries
    trials_now = _metric("leadsync_circuit_opened_total", reason="trial_failed")
    # (+2: a job that passed the gate just before the trip may still be on its way.)
    assert await _requests(stack) - calls <= trials_now - trials_before + 2
    assert max(retries.values()) <= 2
    assert all(j.state != "dead" for j in await _jobs(stack))

    await stack.set_faults()  # ResMan is back

    async def drained() -> bool:
        jobs = await _jobs(stack)
        return all(j.state == "succeeded" for j in jobs)

    await wait_until(drained, within=240)
    assert len(await stack.resman_prospects(stack.a)) == 8
    assert await _open_until(stack) is None


async def _requests(stack: Stack) -> int:
    stats = (await stack.sandbox.get("/admin/stats")).json()
    return int(sum(stats["requests"].values()))


async def test_business_errors_never_open_the_circuit_and_unknown_ones_back_off(
    stack: Stack,
) -> None:
    stack.runtime.runner.policy = FAST
    await stack.set_faults(business_error_rate=1.0)  # "An unexpected error has occurred"
    opened = _metric("leadsync_circuit_opened_total", reason="failure_rate")
    await _post(stack, 6)

    async def all_failed_once() -> bool:
        jobs = await _jobs(stack)
        return len(jobs) == 6 and all(j.error_category == "unknown" for j in jobs)

    await wait_until(all_failed_once, within=240)
    assert await _open_until(stack) is None
    assert _metric("leadsync_circuit_opened_total", reason="failure_rate") == opened
    for job in await _jobs(stack):
        assert job.state == "queued"
        # A real back-off (base 30 s, equal jitter: at least 15 s), not 3 retries in 3 s.
        assert (job.next_retry_at - job.updated_at).total_seconds() >= 15


async def test_twenty_percent_faults_never_open_the_circuit(stack: Stack) -> None:
    stack.runtime.runner.policy = RetryPolicy(ambiguous_retry_floor=0.5)
    await stack.set_faults(seed=7, http_error_rate=0.2, http_error_codes=[500, 503])
    opened = _metric("leadsync_circuit_opened_total", reason="failure_rate")
    await _post(stack, 24)

    async def drained() -> bool:
        jobs = await _jobs(stack)
        return len(jobs) == 24 and all(j.state == "succeeded" for j in jobs)

    await wait_until(drained, within=300)
    assert _metric("leadsync_circuit_opened_total", reason="failure_rate") == opened
    assert await _open_until(stack) is None
    assert len(await stack.resman_prospects(stack.a)) == 24
