"""Operator administration: properties, ResMan integrations, API keys and the job queue.

Plain async services on an `AsyncSession` with keyword-only arguments. They flush but never
commit: the caller (a CLI command, an admin request) owns the transaction, so a command that
fails half-way writes nothing.
"""

from __future__ import annotations


class AdminError(ValueError):
    """An operator's request cannot be carried out; the message says why, in one line.

    Messages name ids and settings, never a secret or a person's data.
    """


class NotFoundError(AdminError):
    """An id the operator gave names no row (a separate class so an HTTP layer can 404)."""


__all__ = ["AdminError", "NotFoundError"]
