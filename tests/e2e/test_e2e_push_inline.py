"""Inline first push attempts are bounded: beyond the limit a request answers ``pending`` at
once and leaves the job, unclaimed, to the worker (issue 10, item 3)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from leadsync.db.models import LeadSyncQueue
from stack import Stack, lead_body, wait_until


async def _jobs(stack: Stack) -> list[tuple[str, int]]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.execute(select(LeadSyncQueue.state, LeadSyncQueue.attempts))
        return [(state, attempts) for state, attempts in rows.all()]


async def test_attempts_beyond_the_limit_answer_pending_and_go_to_the_worker(stack: Stack) -> None:
    rt = stack.runtime
    rt.inline.limit = 2
    rt.worker.concurrency = 0  # the worker takes nothing until the end of the test
    # Slow ResMan: the two inline attempts are still running when the other requests come.
    await stack.set_faults(latency_ms=3000)
    posts = [
        stack.api.post(
            "/api/resman/leads",
            json=lead_body(stack.a.property_id, n=n),
            headers=stack.auth(stack.a),
        )
        for n in range(6)
    ]
    answers = await asyncio.gather(*posts)
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    # The two slots stay taken while ResMan is slow, so most requests find them full: their
    # jobs were never claimed by anyone (without the bound all six are tried inline), and
    # they answered pending at once.
    jobs = await _jobs(stack)
    assert len(jobs) == 6
    unclaimed = [state for state, attempts in jobs if attempts == 0]
    assert len(unclaimed) >= 2
    assert set(unclaimed) == {"queued"}
    statuses = [a.json()["sync_status"] for a in answers]
    assert statuses.count("pending") >= len(unclaimed)
    assert rt.inline.in_flight <= 2

    await stack.set_faults(latency_ms=0)
    rt.worker.concurrency = 64
    rt.worker.wake()

    async def all_pushed() -> bool:
        return [state for state, _ in await _jobs(stack)] == ["succeeded"] * 6

    await wait_until(all_pushed, within=90)
    assert len(await stack.resman_prospects(stack.a)) == 6
    assert rt.inline.in_flight == 0


async def test_limit_zero_never_pushes_inline(stack: Stack) -> None:
    stack.runtime.inline.limit = 0
    answer = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    assert answer.status_code == 201
    assert answer.json()["sync_status"] == "pending"

    async def pushed() -> bool:
        return [state for state, _ in await _jobs(stack)] == ["succeeded"]

    await wait_until(pushed, within=60)  # by the worker
    assert len(await stack.resman_prospects(stack.a)) == 1
