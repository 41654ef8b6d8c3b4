"""One more try, within the same attempt, for a read that met a transient transport failure.

A search is idempotent, so trying it again at once costs nothing but the call; a push job
that lost a whole attempt (and a retry with back-off) to every transient failure of any of
its three calls lost about half its attempts under 20 % faults, and now and then all twelve
(a lead dead-lettered for nothing but bad luck). Posts are never tried again here: an
unanswered post may have been applied (the job's retry checks for it first). A 429 is not
tried again either: the account's pause after it is the budget's business.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from leadsync.resman.errors import RateLimitedError, TransientError

T = TypeVar("T")

#: The pause before the second try (jittered up to twice that).
READ_AGAIN_SECONDS = 0.2


async def read_again_once(read: Callable[[], Awaitable[T]]) -> T:
    """``read()``; after a transient failure other than a 429, ``read()`` once more."""
    try:
        return await read()
    except RateLimitedError:
        raise
    except TransientError:
        await asyncio.sleep(READ_AGAIN_SECONDS * (1 + random.random()))
        return await read()
