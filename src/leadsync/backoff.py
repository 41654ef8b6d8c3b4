"""Retry delays: exponential, capped, jittered, and never shorter than the server asked."""

from __future__ import annotations

import random

DEFAULT_BASE_SECONDS = 0.5
DEFAULT_CAP_SECONDS = 300.0
_RNG = random.Random()  # jitter only; not security-sensitive


def retry_delay(
    *,
    retry_count: int,
    retry_after: float | None = None,
    base: float = DEFAULT_BASE_SECONDS,
    cap: float = DEFAULT_CAP_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``retry_count + 1``.

    "Equal jitter": half the exponential step is fixed, half random, so retries of many
    jobs that failed together spread out (no thundering herd) yet never collapse to zero.
    A ``Retry-After`` from the server is a floor.
    """
    step = min(cap, base * (2.0 ** min(max(retry_count, 0), 32)))
    jitter: float = (rng or _RNG).uniform(0, step / 2)
    delay = step / 2 + jitter
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, max(cap, retry_after or 0.0))
