"""What a failed job's exception means, decided from its type alone (pure functions).

Three kinds, handled very differently by the runner:

- ResMan transport failures (timeouts, resets, 5xx, 429): retried with back-off, and the
  calls behind them feed the integration's circuit breaker;
- ResMan business errors and refusals (validation, unknown source, an answer over the size
  limit, unsafe XML): permanent ones are dead-lettered at once, never counted by the breaker;
- internal errors (a bug, a constraint violation, anything that is not a ResMan error): the
  job is dead-lettered AT ONCE with its traceback logged. Retrying a bug twelve times as if
  ResMan were down only delays the alarm, and pausing the integration for it stops every
  other lead of the property.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from leadsync.resman.classify import UNKNOWN_CATEGORY
from leadsync.resman.errors import (
    AnswerTooLargeError,
    AuthenticationError,
    BusinessError,
    RateLimitedError,
    ResManError,
    TransientError,
    UnsafeAnswerError,
)
from leadsync.sync.queue.targets import IntegrationNotFoundError
from leadsync.telemetry.logging import redact_text

INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Failure:
    category: str
    permanent: bool
    retry_after: float | None
    #: Pause the whole integration (throttling, bad credentials).
    pause: bool
    #: A business error in words we do not know: back off slowly.
    slow: bool = False


def classify(exc: BaseException) -> Failure:
    """What a failure means for the job: the sync engine decides from the error type alone."""
    if isinstance(exc, RateLimitedError):
        return Failure("rate_limited", False, exc.retry_after, pause=True)
    if isinstance(exc, TransientError):
        return Failure("transient", False, exc.retry_after, pause=False)
    if isinstance(exc, AuthenticationError):
        return Failure("authentication", False, None, pause=True)
    if isinstance(exc, AnswerTooLargeError):
        return Failure("answer_too_large", True, None, pause=False)
    if isinstance(exc, UnsafeAnswerError):
        return Failure("unsafe_xml", True, None, pause=False)
    if isinstance(exc, BusinessError):
        unknown = exc.category == UNKNOWN_CATEGORY
        return Failure(exc.category, not exc.retryable, None, pause=False, slow=unknown)
    if isinstance(exc, ResManError):
        return Failure("resman", not exc.retryable, None, pause=False)
    if isinstance(exc, IntegrationNotFoundError):
        return Failure("integration_missing", True, None, pause=False)
    if isinstance(exc, OperationalError | StaleDataError):
        # The database itself hiccuped (a lock wait ran out, a connection dropped), or the
        # optimistic lock saw another writer change the row first (a prospect's state is
        # applied to all its conversations, whose own jobs run under other keys): not a bug
        # and not ResMan; the job is retried with back-off and re-reads the row.
        return Failure("database", False, None, pause=False)
    return Failure(INTERNAL, True, None, pause=False)


def safe_message(exc: BaseException, failure: Failure, *, error_id: str) -> str:
    """The error text stored in the queue and sync log and shown by the API and CLI.

    ResMan errors carry only the method, the HTTP status and ResMan's description (see
    ``resman.errors``). Any other exception may quote SQL parameters (names, emails, phones):
    only its type is kept, with an id that finds the full traceback in the (redacted) log.
    """
    if isinstance(exc, ResManError | IntegrationNotFoundError):
        text = redact_text(f"{type(exc).__name__}: {exc}")
    else:
        text = f"{type(exc).__name__} (details in the log)"
    return f"[{failure.category}] {text} (error id {error_id})"
