"""A per-account request budget (token bucket) so we never flood one ResMan account.

ResMan publishes no rate limits, so we throttle on our side (docs/RESMAN_PROTOCOL.md). Each
AccountID has its own bucket: one busy management company cannot starve another.

Callers take a token *before* the HTTP request is sent, so a task waiting for budget holds no
pooled connection. Tokens are reserved immediately (the bucket may go negative) and the caller
sleeps for its share of the deficit: waiters are served in arrival order and no lock is needed,
because reading and updating a bucket happens without an ``await`` in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float


class RequestBudget:
    """Token bucket per account: ``rate`` tokens per second, at most ``burst`` saved up.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests can drive time.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[int, _Bucket] = {}

    def reserve(self, account_id: int) -> float:
        """Take one token for ``account_id`` now; return how long to wait before using it."""
        now = self._clock()
        bucket = self._buckets.get(account_id)
        if bucket is None:
            bucket = self._buckets[account_id] = _Bucket(tokens=float(self.burst), updated_at=now)
        elapsed = max(0.0, now - bucket.updated_at)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.updated_at = now
        bucket.tokens -= 1.0
        return 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate

    def refund(self, account_id: int) -> None:
        """Give back a reserved token (its caller was cancelled before using it)."""
        bucket = self._buckets.get(account_id)
        if bucket is not None:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1.0)

    def available(self, account_id: int) -> float:
        """Tokens ``account_id`` could spend right now without waiting (negative: in debt)."""
        bucket = self._buckets.get(account_id)
        if bucket is None:
            return float(self.burst)
        elapsed = max(0.0, self._clock() - bucket.updated_at)
        return min(float(self.burst), bucket.tokens + elapsed * self.rate)

    async def acquire(self, account_id: int) -> None:
        """Wait until ``account_id`` may send one more request."""
        delay = self.reserve(account_id)
        if delay <= 0:
            return
        try:
            await self._sleep(delay)
        except asyncio.CancelledError:
            # A cancelled waiter never sends: return its token so the others are not slowed.
            self.refund(account_id)
            raise
