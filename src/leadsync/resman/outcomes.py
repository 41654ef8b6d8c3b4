"""Count the outcomes of ResMan calls made on behalf of one job (for its circuit breaker).

The breaker trips on the failure rate of ResMan *calls*, not of jobs: a push makes several
calls, and counting a job as one failure would turn 20 % per-call faults into a ~50 % job
failure rate. The client reports every call to the tally of the current task (a context
variable, so concurrent jobs never mix their counts); outside a job nothing is counted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from leadsync.resman import errors
from leadsync.resman.errors import ResManError, ResponseFormatError, TransientError


@dataclass(slots=True)
class CallTally:
    #: Calls ResMan answered (including business errors: ResMan is up, it said no).
    answered: int = 0
    #: Transport failures: timeouts, resets, 5xx, 429.
    failed: int = 0
    #: Told of each call as it ends (``True``: a transport failure), so a breaker sees the
    #: outcomes in the order they happen, not when the job's transaction gets to commit.
    on_call: Callable[[bool], None] | None = None


_TALLY: ContextVar[CallTally | None] = ContextVar("resman_call_tally", default=None)


@contextlib.contextmanager
def tally_calls(tally: CallTally) -> Iterator[CallTally]:
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)


def is_transport_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says ResMan (or the way to it) is unwell, not that a request is bad.

    An unparseable answer is not counted: ResMan answered, the answer was wrong.
    """
    return isinstance(exc, TransientError) and not isinstance(exc, ResponseFormatError)


def record_call(error: ResManError | None) -> None:
    tally = _TALLY.get()
    if tally is None:
        return
    failed = error is not None and is_transport_failure(error)
    if failed:
        tally.failed += 1
    else:
        tally.answered += 1
    if tally.on_call is not None:
        tally.on_call(failed)


def call_outcome(exc: BaseException | None) -> str:
    """The outcome label of one call, for the API response-time metric."""
    if exc is None:
        return "ok"
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (errors.RateLimitedError, "rate_limited"),
        (errors.ResManTimeoutError, "timeout"),
        (errors.ResManConnectionError, "connection"),
        (errors.AuthenticationError, "auth"),
        (errors.BusinessError, "business"),
        (errors.TransientError, "server_error"),
    )
    return next((kind for cls, kind in kinds if isinstance(exc, cls)), "error")
