"""The per-account token bucket, driven by a fake clock (no real waiting, no timing)."""

from __future__ import annotations

import asyncio

import pytest

from leadsync.resman.budget import RequestBudget


class FakeTime:
    """A clock that only moves when a caller "sleeps" (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_budget(t: FakeTime, *, rate: float = 2.0, burst: int = 3) -> RequestBudget:
    return RequestBudget(rate=rate, burst=burst, clock=t.clock, sleep=t.sleep)


async def test_burst_passes_without_waiting_then_waits_one_token_time() -> None:
    t = FakeTime()
    budget = make_budget(t)
    for _ in range(3):
        await budget.acquire(400)
    assert t.sleeps == []
    await budget.acquire(400)
    assert t.sleeps == [pytest.approx(0.5)]


def test_reservations_queue_up_in_arrival_order() -> None:
    t = FakeTime()
    budget = make_budget(t, rate=4.0, burst=1)
    waits = [budget.reserve(400) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_bucket_refills_with_time_but_never_beyond_burst() -> None:
    t = FakeTime()
    budget = make_budget(t, rate=2.0, burst=3)
    for _ in range(3):
        budget.reserve(400)
    assert budget.available(400) == pytest.approx(0.0)
    t.now += 1.0
    assert budget.available(400) == pytest.approx(2.0)
    t.now += 3600.0
    assert budget.available(400) == pytest.approx(3.0)
    assert [budget.reserve(400) for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_accounts_have_separate_buckets() -> None:
    t = FakeTime()
    budget = make_budget(t, rate=1.0, burst=1)
    assert budget.reserve(400) == 0.0
    assert budget.reserve(400) == pytest.approx(1.0)
    assert budget.reserve(401) == 0.0  # a busy account does not slow another one


def test_clock_going_backwards_does_not_mint_tokens() -> None:
    t = FakeTime()
    budget = make_budget(t, rate=1.0, burst=1)
    budget.reserve(400)
    t.now -= 50.0
    assert budget.reserve(400) == pytest.approx(1.0)


async def test_cancelled_waiter_returns_its_token() -> None:
    t = FakeTime()
    blocked = asyncio.Event()

    async def never(_: float) -> None:
        blocked.set()
        await asyncio.Event().wait()

    budget = RequestBudget(rate=1.0, burst=1, clock=t.clock, sleep=never)
    await budget.acquire(400)
    waiter = asyncio.create_task(budget.acquire(400))
    await blocked.wait()
    assert budget.available(400) == pytest.approx(-1.0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert budget.available(400) == pytest.approx(0.0)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_invalid_parameters(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RequestBudget(rate=rate, burst=burst)
