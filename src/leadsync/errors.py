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
