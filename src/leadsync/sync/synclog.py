"""lead_sync_log writes: one row per accepted change (pending) and per attempt."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import LeadSyncLog
from leadsync.telemetry import metrics
from leadsync.telemetry.logging import redact_text


async def log_sync(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID | None,
    integration_id: uuid.UUID | None,
    direction: str,
    status: str,
    sync_type: str,
    resman_lead_id: str | None = None,
    job_id: uuid.UUID | None = None,
    attempt: int | None = None,
    error: str | None = None,
    conflict_resolution: str | None = None,
    details: dict[str, Any] | None = None,
    duration_ms: int | None = None,
) -> LeadSyncLog:
    row = LeadSyncLog(
        id=uuid.uuid4(),
        conversation_id=conversation_id,
        integration_id=integration_id,
        sync_direction=direction,
        sync_status=status,
        sync_type=sync_type,
        resman_lead_id=resman_lead_id,
        job_id=job_id,
        attempt=attempt,
        # ResMan's descriptions can quote what was posted; the log table is not a PII store.
        error_message=redact_text(error)[:2000] if error else None,
        conflict_resolution=conflict_resolution,
        details=details,
        duration_ms=duration_ms,
    )
    session.add(row)
    metrics.count_log(
        session,
        direction=direction,
        status=status,
        sync_type=sync_type,
        conflict_resolution=conflict_resolution,
        details=details,
    )
    # Not flushed here: the row goes in with the caller's next flush or its commit (a pull
    # storing a batch of leads writes their log rows in one statement); its id is ours.
    return row
