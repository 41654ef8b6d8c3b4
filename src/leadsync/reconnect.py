"""Reconnect with backoff: the one helper every long-lived connection loop uses (the ResMan
change feed, the PostgreSQL LISTEN fan-out, the event-log tail, ``leadsync watch``).

Each failed attempt waits longer (exponential, capped, "equal jitter" from
:func:`leadsync.backoff.retry_delay`, so many clients that lost the same server spread
out); a success starts over from ``base``. What counts as a success is the caller's call: a
LISTEN that took, a feed that stayed up a few seconds, a subscription the server confirmed.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from leadsync.backoff import retry_delay


@dataclass(slots=True)
class Reconnect:
    """Delays between the attempts of one reconnect loop."""

    base: float
    cap: float
    rng: random.Random | None = field(default=None, repr=False)
    #: Failures since the last success (the next delay grows with it).
    failures: int = 0

    def succeeded(self) -> None:
        """The connection works: the next failure waits ``base`` again."""
        self.failures = 0

    def next_delay(self) -> float:
        """Count a failure and return how long to wait before the next attempt."""
        delay = retry_delay(retry_count=self.failures, base=self.base, cap=self.cap, rng=self.rng)
        self.failures += 1
        return delay

    async def sleep(self) -> float:
        """Count a failure and wait before the next attempt; returns the seconds waited."""
        delay = self.next_delay()
        await asyncio.sleep(delay)
        return delay
