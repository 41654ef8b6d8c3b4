"""How a queued job is shown to people (CLI, API, dashboard): JSON-safe, and without its
``sync_data``, which carries the lead's personal data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from leadsync.db.models import LeadSyncQueue


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def job_summary(job: LeadSyncQueue) -> dict[str, Any]:
    """A JSON-safe summary of a job. `sync_data` is left out: it carries the lead's PII."""
    return {
        "id": str(job.id),
        "seq": job.seq,
        "state": job.state,
        "sync_operation": job.sync_operation,
        "conversation_id": _str(job.conversation_id),
        "integration_id": _str(job.integration_id),
        "priority": job.priority,
        "retry_count": job.retry_count,
        "max_retries": job.max_retries,
        "attempts": job.attempts,
        "error_category": job.error_category,
        "last_error": job.last_error,
        "next_retry_at": _iso(job.next_retry_at),
        "created_at": _iso(job.created_at),
        "dead_at": _iso(job.dead_at),
    }
