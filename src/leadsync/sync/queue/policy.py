"""How the sync engine retries, as data: back-off, the circuit breaker and retry limits.

One :class:`RetryPolicy` is built from the settings (``LEADSYNC_RETRY_*``,
``LEADSYNC_BREAKER_*``) and handed to the job runner; tests build their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leadsync.backoff import DEFAULT_BASE_SECONDS, DEFAULT_CAP_SECONDS
from leadsync.config import Settings
from leadsync.sync.queue.breaker import BreakerSettings
from leadsync.sync.queue.repository import DEFAULT_MAX_RETRIES


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: Exponential back-off of a transient failure: base * 2**retry, equal jitter, capped.
    base_seconds: float = DEFAULT_BASE_SECONDS
    cap_seconds: float = DEFAULT_CAP_SECONDS
    #: Base of the back-off after a business error ResMan described in words we do not know:
    #: maybe a hiccup, maybe a bad request, so a few slow retries, never a burst.
    unknown_error_base_seconds: float = 30.0
    #: Attempts of a transient failure before a job becomes a dead letter (new jobs).
    max_retries: int = DEFAULT_MAX_RETRIES
    #: After a timeout or dropped connection ResMan may still be processing our request;
    #: retrying sooner could create the prospect twice before the duplicate check can see the
    #: first one. Set to the client's read timeout.
    ambiguous_retry_floor: float = 30.0
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    #: Refused credentials do not heal on their own: rest long, not every few seconds.
    auth_pause_seconds: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_seconds=settings.retry_base_seconds,
            cap_seconds=settings.retry_cap_seconds,
            unknown_error_base_seconds=settings.retry_unknown_error_base_seconds,
            max_retries=settings.retry_max,
            ambiguous_retry_floor=settings.resman_read_timeout,
            auth_pause_seconds=settings.auth_pause_seconds,
            breaker=BreakerSettings(
                window_seconds=settings.breaker_window_seconds,
                minimum_calls=settings.breaker_minimum_calls,
                failure_rate=settings.breaker_failure_rate,
                open_seconds=settings.breaker_open_seconds,
                open_max_seconds=settings.breaker_open_max_seconds,
                trial_seconds=settings.breaker_trial_seconds,
            ),
        )
