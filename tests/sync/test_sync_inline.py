"""InlineAttempts: the bound, and no attempt whose exception is never retrieved; the API's
first attempt and the kill switch."""

from __future__ import annotations

import asyncio
import gc
import uuid
from typing import Any

import pytest

from leadsync.leads.after_commit import first_attempt
from leadsync.sync.inline import InlineAttempts
from leadsync.sync.queue import flags
from sync.sync_kit import Engine, counted_statements


async def test_start_refuses_beyond_the_limit_and_frees_the_slot() -> None:
    release = asyncio.Event()

    async def attempt(job_id: uuid.UUID) -> object:
        await release.wait()
        return job_id

    inline = InlineAttempts(attempt=attempt, limit=2)
    first, second = inline.start(uuid.uuid4()), inline.start(uuid.uuid4())
    assert first is not None
    assert second is not None
    assert inline.start(uuid.uuid4()) is None
    assert inline.in_flight == 2
    release.set()
    await inline.drain()
    assert inline.in_flight == 0
    assert inline.start(uuid.uuid4()) is not None
    await inline.drain()


async def test_a_failure_after_the_wait_is_retrieved_not_lost() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    fail = asyncio.Event()

    async def attempt(job_id: uuid.UUID) -> object:
        await fail.wait()
        raise RuntimeError(f"boom {job_id}")

    inline = InlineAttempts(attempt=attempt, limit=1)
    task = inline.start(uuid.uuid4())
    assert task is not None
    assert await inline.wait(task, within=0.01) is False  # the request gave up waiting
    fail.set()
    await inline.drain()
    assert task.done()
    assert not task.cancelled()
    del task  # nobody here looks at its exception: the runtime must have retrieved it
    gc.collect()
    loop.set_exception_handler(None)
    assert not [c for c in reported if "never retrieved" in str(c.get("message"))]


def test_negative_limit_is_refused() -> None:
    async def attempt(job_id: uuid.UUID) -> object:
        return job_id

    with pytest.raises(ValueError, match="limit"):
        InlineAttempts(attempt=attempt, limit=-1)


async def test_the_first_attempt_reads_the_kill_switch_at_most_once_a_cache_period(
    engine_kit: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's first attempt asks the kill switch from the one-second cache; only a cold
    cache costs it a read transaction (it cost one per request)."""
    monkeypatch.setattr(flags, "_CACHE_SECONDS", 3600.0)  # no expiry between the two calls
    rt = engine_kit.runtime
    async with rt.sessionmaker() as session, session.begin():
        await flags.set_push_paused(session, paused=True, changed_by="test")  # clears the cache
    job_id = uuid.uuid4()  # paused: the attempt stops at the switch, before the job
    with counted_statements(rt.engine) as cold:
        await first_attempt(rt, job_id)
    with counted_statements(rt.engine) as warm:
        await first_attempt(rt, job_id)
    assert cold["SELECT"] == 1
    assert sum(warm.values()) == 0
    assert rt.inline.in_flight == 0
