"""Errors shared across leadsync packages.

Messages name the setting or the operation that failed, never a secret or a person's data.
"""

from __future__ import annotations


class LeadsyncError(Exception):
    """Base of leadsync's own errors (the ResMan client has its own hierarchy)."""


class ConfigurationError(LeadsyncError):
    """The service cannot start or continue with the configuration it was given."""


class DecryptionError(LeadsyncError):
    """Stored ciphertext could not be opened with any configured key."""


class DomainError(LeadsyncError):
    """A request the domain refuses. Services raise it; the API answers it as a problem
    document (api/problems.py), the WebSocket as an error message. ``status`` uses HTTP's
    numbers as the shared vocabulary: 400 refused, 404 unknown (or not this key's), 409 not
    in a state that allows it, 422 an invalid value (``errors`` names the fields), 502/503
    a service we depend on failed (``retry_after``: when trying again can work)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        #: Seconds after which trying again can work (a 503's Retry-After).
        self.retry_after = retry_after
