"""The pure circuit breaker: failure RATE over a sliding window, half-open, cool-down growth."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.config import Settings
from leadsync.sync.queue.breaker import (
    BreakerSettings,
    CircuitBreaker,
    CircuitState,
    state_at,
)
from leadsync.sync.queue.policy import RetryPolicy

SETTINGS = BreakerSettings(
    window_seconds=30.0, minimum_calls=20, failure_rate=0.5, open_seconds=2.0, open_max_seconds=8.0
)


def test_a_run_of_failures_amid_successes_does_not_trip() -> None:
    # The old breaker opened on 5 failures in a row, whatever the successes around them.
    breaker = CircuitBreaker(SETTINGS)
    assert breaker.record(now=0.0, successes=80, failures=0) is None
    for i in range(10):
        assert breaker.record(now=1.0 + i, successes=0, failures=1) is None
    assert breaker.failure_rate(11.0) == pytest.approx(10 / 90)


def test_twenty_percent_faults_never_trip() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for second in range(600):
        # Every fifth call fails, forever: throughput must not collapse.
        assert breaker.record(now=float(second), successes=4, failures=1) is None


def test_minimum_calls_before_any_verdict() -> None:
    breaker = CircuitBreaker(SETTINGS)
    for i in range(19):
        assert breaker.record(now=float(i) / 10, successes=0, failures=1) is None
    assert breaker.record(now=2.0, successes=0, failures=1) == 2.0


def test_old_outcomes_leave_the_window() -> None:
    breaker = CircuitBreaker(SETTINGS)
    breaker.record(now=0.0, successes=0, failures=15)
    # 31 s later the 15 failures are gone: 10 failures out of 20 calls, exactly the threshold.
    assert breaker.calls(31.0) == 0
    assert breaker.record(now=31.0, successes=10, failures=0) is None
    assert breaker.record(now=31.5, successes=0, failures=10) == 2.0


def test_cooldown_doubles_per_failed_trial_up_to_the_cap_and_resets_on_close() -> None:
    breaker = CircuitBreaker(SETTINGS)
    assert [breaker.trip() for _ in range(5)] == [2.0, 4.0, 8.0, 8.0, 8.0]
    breaker.closed()
    assert breaker.trips == 0
    assert breaker.calls(0.0) == 0
    assert breaker.trip() == 2.0


def test_tripping_starts_a_fresh_window() -> None:
    breaker = CircuitBreaker(SETTINGS)
    assert breaker.record(now=0.0, successes=0, failures=20) == 2.0
    # The failures that tripped it do not trip it again on the next single failure.
    assert breaker.record(now=0.1, successes=0, failures=1) is None


def test_state_of_the_shared_open_until() -> None:
    assert state_at(None, 100.0) is CircuitState.CLOSED
    assert state_at(101.0, 100.0) is CircuitState.OPEN
    assert state_at(100.0, 100.0) is CircuitState.HALF_OPEN
    assert state_at(50.0, 100.0) is CircuitState.HALF_OPEN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minimum_calls": 0},
        {"failure_rate": 0.0},
        {"failure_rate": 1.5},
        {"open_seconds": 10.0, "open_max_seconds": 5.0},
        {"window_seconds": 0.0},
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BreakerSettings(**kwargs)  # type: ignore[arg-type]


outcomes = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=5, allow_nan=False),
        st.integers(min_value=0, max_value=10),
        st.integers(min_value=0, max_value=10),
    ),
    max_size=60,
)


@given(outcomes)
def test_trips_exactly_when_rate_and_minimum_are_reached(
    steps: list[tuple[float, int, int]],
) -> None:
    breaker = CircuitBreaker(SETTINGS)
    # A reference model: every outcome with its time, cleared on a trip.
    window: list[tuple[float, bool]] = []
    now = 0.0
    for gap, ok, bad in steps:
        now += gap
        window = [(t, f) for t, f in window if t > now - SETTINGS.window_seconds]
        window += [(now, False)] * ok + [(now, True)] * bad
        failures = sum(f for _, f in window)
        expect = (
            bad > 0
            and len(window) >= SETTINGS.minimum_calls
            and failures / len(window) >= SETTINGS.failure_rate
        )
        tripped = breaker.record(now=now, successes=ok, failures=bad)
        assert (tripped is not None) == expect
        if expect:
            window = []


@given(st.integers(min_value=0, max_value=200))
def test_cooldown_is_bounded_and_monotonic(trips: int) -> None:
    breaker = CircuitBreaker(SETTINGS)
    assert SETTINGS.open_seconds <= breaker.cooldown(trips) <= SETTINGS.open_max_seconds
    assert breaker.cooldown(trips) <= breaker.cooldown(trips + 1)


def test_by_default_resman_back_up_is_noticed_within_a_second() -> None:
    """Issue 12: drained within seconds of recovery. However long the outage (however many
    trials failed), the next trial is at most 1 s away with the product's defaults."""
    for settings in (BreakerSettings(), RetryPolicy.from_settings(Settings()).breaker):
        breaker = CircuitBreaker(settings)
        assert max(breaker.cooldown(trips) for trips in range(1, 100)) == 1.0
        assert breaker.cooldown(1) == 0.5
