"""Typed errors of the ResMan client.

The sync engine decides what to do from the type alone: retry later (transient), split the
window (overflow), dead-letter (permanent business error), stop the integration (auth).
Messages never carry credentials: only the method name, HTTP status and ResMan's description.
"""

from __future__ import annotations


class ResManError(Exception):
    """Base of every error the ResMan client raises."""

    #: Whether repeating the same call later can succeed.
    retryable: bool = False

    def __init__(self, message: str, *, method: str | None = None) -> None:
        super().__init__(message)
        self.method = method


class TransientError(ResManError):
    """5xx (other than the window overflow), timeouts, connection resets, garbled answers."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, method=method)
        self.status_code = status_code
        #: Seconds the server asked us to wait, when it said so.
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """HTTP 429; `retry_after` carries the server's `Retry-After` when present."""


class ResManTimeoutError(TransientError):
    """The request did not complete in time (connect, read or pool)."""


class ResManConnectionError(TransientError):
    """The connection was refused or reset."""


class WindowOverflowError(ResManError):
    """SearchProspects answered 502 "buffer overflow": the modified window holds too many."""

    retryable = False


class AnswerTooLargeError(WindowOverflowError):
    """The answer grew past ``LEADSYNC_RESMAN_MAX_ANSWER_BYTES``; reading stopped there.

    Permanent: the same request gets the same answer, so retrying only burns memory and
    bandwidth. A SearchProspects window is split instead (it is a WindowOverflowError, the
    remedy of the 502 buffer overflow); any other call is dead-lettered naming the limit, and
    the operator may raise the limit and replay it.
    """

    def __init__(self, *, method: str, limit: int, bytes_read: int) -> None:
        super().__init__(
            f"{method}: answer larger than {limit} bytes refused "
            "(limit LEADSYNC_RESMAN_MAX_ANSWER_BYTES)",
            method=method,
        )
        self.limit = limit
        #: How much was read before giving up: at most the limit plus one network chunk.
        self.bytes_read = bytes_read


class UnsafeAnswerError(ResManError):
    """ResMan's answer held a DOCTYPE/entity declaration (XML bomb, external entity).

    Permanent: no well-behaved ResMan sends one, and asking again only invites it again.
    """


class BusinessError(ResManError):
    """HTTP 200 with Status Error/Failed: ResMan refused the request itself."""

    def __init__(
        self,
        description: str,
        *,
        method: str | None = None,
        category: str = "unknown",
        retryable: bool = False,
    ) -> None:
        super().__init__(f"{method or 'ResMan'}: {description}", method=method)
        self.description = description
        #: A stable machine name: transaction_source, validation, not_found, unknown, ...
        self.category = category
        self.retryable = retryable


class AuthenticationError(ResManError):
    """Credentials refused (HTTP 401/403, or a credentials business error)."""


class ResponseFormatError(TransientError):
    """The answer could not be parsed (an HTML error page from a proxy, a truncated body)."""


class UnsafeXMLError(ValueError):
    """An XML document with a DOCTYPE/entity declaration (XML bomb, external entity)."""


class MalformedXMLError(ValueError):
    """An XML document that is not well-formed or not the expected MITS shape."""
