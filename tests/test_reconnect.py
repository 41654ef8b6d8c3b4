"""leadsync.reconnect: the backoff every reconnect loop shares."""

from __future__ import annotations

import random

from leadsync.reconnect import Reconnect


def test_delays_grow_per_failure_within_equal_jitter_bounds_and_stop_at_the_cap() -> None:
    backoff = Reconnect(base=1.0, cap=8.0, rng=random.Random(7))

    delays = [backoff.next_delay() for _ in range(6)]

    steps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(step / 2 <= d <= step for d, step in zip(delays, steps, strict=True))
    assert backoff.failures == 6


def test_success_starts_the_backoff_over() -> None:
    backoff = Reconnect(base=1.0, cap=60.0, rng=random.Random(7))
    for _ in range(5):
        backoff.next_delay()

    backoff.succeeded()

    assert backoff.failures == 0
    assert 0.5 <= backoff.next_delay() <= 1.0


def test_same_seed_same_delays() -> None:
    one = Reconnect(base=0.5, cap=30.0, rng=random.Random(3))
    two = Reconnect(base=0.5, cap=30.0, rng=random.Random(3))

    assert [one.next_delay() for _ in range(5)] == [two.next_delay() for _ in range(5)]


async def test_sleep_counts_a_failure_and_returns_the_wait() -> None:
    backoff = Reconnect(base=0.002, cap=0.002)

    waited = await backoff.sleep()

    assert backoff.failures == 1
    assert 0.001 <= waited <= 0.002
