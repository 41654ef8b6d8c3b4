"""Response shapes of the pull and recognition routes (the spec's PullLeadsResponse, plus the
lead context and the lookup)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ConversationInfo(BaseModel):
    """The DomIQ side of a lead (include_conversations=true)."""

    source: str = Field(description="chatbot, or resman for leads that never chatted")
    initial_message: str | None
    transcript_summary: str | None
    context: dict[str, Any]


class PulledLead(BaseModel):
    """The spec's pulled lead, plus the DomIQ conversation it lives in."""

    resman_lead_id: str | None
    conversation_id: uuid.UUID
    first_name: str | None
    last_name: str | None
    email: str | None = None
    phone: str | None = None
    status: str
    lead_score: int
    last_activity: datetime
    notes: str | None = Field(default=None, description="ResMan's newest note, if any")
    custom_fields: dict[str, Any] | None = None
    property_id: uuid.UUID
    source: str
    created_at: datetime
    updated_at: datetime
    conversation: ConversationInfo | None = None


class FailedWindow(BaseModel):
    property_id: uuid.UUID
    start: datetime
    end: datetime


class SyncSummary(BaseModel):
    new_leads: int
    updated_leads: int
    conflicts_resolved: int
    failed_syncs: int = Field(description="prospects queued for a retry, plus unread windows")
    conflicts_open: int = Field(description="conflicts parked for manual review")
    prospects_seen: int
    failed_windows: list[FailedWindow] = Field(
        description="modified windows ResMan could not list (too many prospects in one "
        "second); the cursor stops before them"
    )


class PullLeadsResponse(BaseModel):
    leads: list[PulledLead]
    total_count: int = Field(description="leads the pull touched that match the filter")
    sync_summary: SyncSummary
    next_sync_token: str | None = Field(
        default=None,
        description="the pull cursor afterwards (ISO 8601); usable as the next date_from",
    )


class LeadContext(PulledLead):
    context: dict[str, Any]


class LookupResponse(BaseModel):
    matches: list[PulledLead]
    total_count: int
