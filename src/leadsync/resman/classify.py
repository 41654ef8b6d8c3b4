"""Turn whatever a ResMan call ended with into one typed error (pure functions).

The sync engine decides retries from the error type alone, so every outcome maps here:
transport failures, HTTP statuses and business errors that ResMan reports as HTTP 200 with
``Status`` Error/Failed. Messages carry the method name, the HTTP status and ResMan's own
description only: never credentials, form fields or XML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx2

from leadsync.resman.errors import (
    AuthenticationError,
    BusinessError,
    RateLimitedError,
    ResManConnectionError,
    ResManError,
    ResManTimeoutError,
    ResponseFormatError,
    TransientError,
    WindowOverflowError,
)

#: Marker of SearchProspects' "too many prospects in the window" answer (an HTTP 502).
OVERFLOW_MARKER = "buffer overflow"

#: 4xx statuses that mean "try again later" rather than "this request is wrong".
RETRYABLE_CLIENT_STATUSES = frozenset({408})


class Verdict(StrEnum):
    AUTH = "auth"
    BUSINESS = "business"


@dataclass(frozen=True, slots=True)
class BusinessPattern:
    """An ``ErrorDescription`` containing any of ``needles`` (case-insensitive) means this."""

    needles: tuple[str, ...]
    verdict: Verdict
    category: str
    retryable: bool = False


#: First match wins, so specific patterns come before general ones ("Invalid credentials" is
#: an authentication problem, not a validation one).
BUSINESS_PATTERNS: tuple[BusinessPattern, ...] = (
    BusinessPattern(
        ("credentials", "not authorized", "invalid api key", "integration partner"),
        Verdict.AUTH,
        "authentication",
    ),
    BusinessPattern(
        ("transaction source could not be found",), Verdict.BUSINESS, "transaction_source"
    ),
    BusinessPattern(("could not be found", "not found"), Verdict.BUSINESS, "not_found"),
    BusinessPattern(("required", "invalid", "must be"), Verdict.BUSINESS, "validation"),
)

#: What an unrecognised description becomes: maybe a hiccup on ResMan's side, so retryable
#: (the engine caps the attempts).
UNKNOWN_CATEGORY = "unknown"


def classify_business_error(description: str | None, *, method: str) -> ResManError:
    """The error for an HTTP 200 answer whose Status is Error/Failed."""
    text = (description or "").strip() or "no error description"
    lowered = text.lower()
    for pattern in BUSINESS_PATTERNS:
        if any(needle in lowered for needle in pattern.needles):
            if pattern.verdict is Verdict.AUTH:
                return AuthenticationError(f"{method}: {text}", method=method)
            return BusinessError(
                text, method=method, category=pattern.category, retryable=pattern.retryable
            )
    return BusinessError(text, method=method, category=UNKNOWN_CATEGORY, retryable=True)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    Returns None when absent or unreadable; a date in the past means "now" (0.0).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def classify_status(
    *,
    method: str,
    status_code: int,
    body: str,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> ResManError:
    """The error for a non-2xx answer (a 2xx answer's body decides instead)."""
    if 200 <= status_code < 300:
        raise ValueError("a 2xx answer is not an HTTP error")
    label = f"{method}: HTTP {status_code}"
    if status_code == 429:
        retry_after = parse_retry_after(headers.get("retry-after"), now=now)
        return RateLimitedError(
            label, method=method, status_code=status_code, retry_after=retry_after
        )
    if status_code == 502 and OVERFLOW_MARKER in body.lower():
        return WindowOverflowError(f"{label} (buffer overflow)", method=method)
    if status_code >= 500 or status_code in RETRYABLE_CLIENT_STATUSES:
        retry_after = parse_retry_after(headers.get("retry-after"), now=now)
        return TransientError(
            label, method=method, status_code=status_code, retry_after=retry_after
        )
    if status_code in (401, 403):
        return AuthenticationError(label, method=method)
    return BusinessError(
        f"HTTP {status_code}", method=method, category=f"http_{status_code}", retryable=False
    )


def classify_request_error(exc: httpx2.RequestError, *, method: str) -> ResManError:
    """The error for a request that got no usable HTTP answer at all.

    The message names the failure kind only: httpx2 messages may quote URLs or peers.
    """
    kind = type(exc).__name__
    if isinstance(exc, httpx2.TimeoutException):
        return ResManTimeoutError(f"{method}: timed out ({kind})", method=method)
    if isinstance(exc, httpx2.DecodingError):
        return ResponseFormatError(f"{method}: undecodable answer ({kind})", method=method)
    # NetworkError (connect/read/write/close), RemoteProtocolError (the peer dropped or garbled
    # the connection), ProxyError and anything else on the way: the request may not have
    # arrived, so try again later.
    return ResManConnectionError(f"{method}: connection failed ({kind})", method=method)
