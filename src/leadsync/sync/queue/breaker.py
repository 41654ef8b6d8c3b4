"""The circuit breaker of one integration, as a pure state machine (no I/O, explicit clock).

Shape of resilience4j / pybreaker, fitted to ResMan:

- CLOSED: every ResMan call outcome enters a sliding *time* window. The circuit trips when the
  window holds at least ``minimum_calls`` outcomes and the share of transport failures
  (timeouts, resets, 5xx, 429) reaches ``failure_rate``. A run of failures alone never trips
  it: under 20 % random faults the rate stays far below the threshold, so throughput holds.
- OPEN: no call goes out until ``open_until`` (a short cool-down, doubled after each failed
  trial, capped at ``open_max_seconds``).
- HALF_OPEN: the cool-down is over; exactly ONE trial request may go out. Its success closes
  the circuit at once (and the whole backlog drains); its failure re-opens it.

Business errors and internal errors are not recorded at all: ResMan answered, or the fault is
ours. The shared part of the state (``circuit_open_until``) lives in the database so every
worker honours a trip (``circuit_store``); the window is per process, like resilience4j's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    #: Length of the sliding window of call outcomes, in seconds.
    window_seconds: float = 30.0
    #: Fewer outcomes than this in the window never trip the circuit (no verdict on 3 calls).
    minimum_calls: int = 20
    #: Share of transport failures in the window (0..1] that trips the circuit.
    failure_rate: float = 0.5
    #: First cool-down after a trip; doubled after each failed trial.
    open_seconds: float = 0.5
    #: Longest cool-down: ResMan back up is noticed within about this many seconds. A trial
    #: is one call per cool-down, nothing to a server that is down; a long cap only left the
    #: backlog waiting after ResMan came back (8 s: the next trial came up to 8 s after
    #: recovery; 2 s: up to 2.5 s, a quarter of the 10 s the outage's drain may take).
    open_max_seconds: float = 1.0
    #: How long one trial may take before another worker may start a new one.
    trial_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.window_seconds <= 0 or self.open_seconds <= 0 or self.trial_seconds <= 0:
            raise ValueError("breaker durations must be positive")
        if self.open_max_seconds < self.open_seconds:
            raise ValueError("open_max_seconds must be at least open_seconds")
        if self.minimum_calls < 1:
            raise ValueError("minimum_calls must be at least 1")
        if not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")


def state_at(open_until: float | None, now: float) -> CircuitState:
    """What the shared ``circuit_open_until`` means at ``now``.

    None is closed; a time still ahead is open (a cool-down, or a trial in flight); a time
    passed is half-open: it was opened and nothing has closed it since.
    """
    if open_until is None:
        return CircuitState.CLOSED
    return CircuitState.OPEN if open_until > now else CircuitState.HALF_OPEN


@dataclass(slots=True)
class CircuitBreaker:
    """The per-process part: the outcome window and the cool-down growth."""

    settings: BreakerSettings = field(default_factory=BreakerSettings)
    #: (time, failed) per call outcome, oldest first.
    _window: deque[tuple[float, bool]] = field(default_factory=deque)
    _failures: int = 0
    #: Trips since the circuit last closed: each failed trial doubles the cool-down.
    trips: int = 0

    def _prune(self, now: float) -> None:
        horizon = now - self.settings.window_seconds
        while self._window and self._window[0][0] <= horizon:
            _, failed = self._window.popleft()
            self._failures -= failed

    def failure_rate(self, now: float) -> float:
        self._prune(now)
        return self._failures / len(self._window) if self._window else 0.0

    def calls(self, now: float) -> int:
        self._prune(now)
        return len(self._window)

    def record(self, *, now: float, successes: int, failures: int) -> float | None:
        """Record call outcomes; returns the cool-down (seconds) when they trip the circuit."""
        if successes < 0 or failures < 0:
            raise ValueError("outcome counts cannot be negative")
        self._prune(now)
        self._window.extend([(now, False)] * successes + [(now, True)] * failures)
        self._failures += failures
        total = len(self._window)
        if failures == 0 or total < self.settings.minimum_calls:
            return None
        if self._failures / total < self.settings.failure_rate:
            return None
        return self.trip()

    def trip(self) -> float:
        """Open (again): the window starts over, the cool-down grows. Returns the cool-down."""
        self._window.clear()
        self._failures = 0
        self.trips += 1
        return self.cooldown(self.trips)

    def cooldown(self, trips: int) -> float:
        s = self.settings
        return float(min(s.open_max_seconds, s.open_seconds * 2 ** max(0, min(trips, 32) - 1)))

    def closed(self) -> None:
        """A trial succeeded: forget the past failures and trips."""
        self._window.clear()
        self._failures = 0
        self.trips = 0
