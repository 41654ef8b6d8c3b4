"""Shapes of the status and merge APIs (the spec's UpdateLeadStatus* and MergeLeads*)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from leadsync.leads.field_values import SyncFieldValues
from leadsync.mapping.lead import SYNC_FIELDS

Status = Literal["new", "contacted", "qualified", "tour_scheduled", "application", "leased", "lost"]
MergeField = Literal[
    "first_name",
    "last_name",
    "email",
    "phone",
    "move_in_date",
    "budget_min",
    "budget_max",
    "bedrooms",
    "occupants",
    "pets",
    "status",
]
assert set(MergeField.__args__) == set(SYNC_FIELDS)  # type: ignore[attr-defined]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UpdateLeadStatusRequest(_In):
    status: Status
    notes: Annotated[str, Strict(), Field(max_length=4000)] | None = None
    next_follow_up: datetime | None = None
    updated_by: Literal["chatbot", "resman_user", "system"]
    sync_direction: Literal["to_resman", "from_resman"]
    custom_fields: Annotated[dict[str, Any], Field(max_length=50)] | None = None
    #: Lost reason name (as in GetLostProspectReasons) when status is "lost".
    lost_reason: Annotated[str, Strict(), Field(max_length=200)] | None = None


class SyncConflictOut(BaseModel):
    field: str
    resman_value: Any
    domiq_value: Any
    resolution: str


class UpdateLeadStatusResponse(BaseModel):
    success: bool
    new_status: str
    updated_at: datetime
    sync_conflicts: list[SyncConflictOut] = []
    conversation_updated: bool
    conversation_id: uuid.UUID
    resman_lead_id: str | None
    #: For a change to "lost": the configured ResMan lost reason posted with it (None when
    #: nothing fits and the property has no generic reason such as "Other").
    lost_reason_used: str | None = None
    #: Things the caller should know, e.g. that its lost_reason was not used as given.
    warnings: list[str] = []


class MergeLeadsRequest(_In):
    resman_lead_id: Annotated[str, Strict(), Field(min_length=1, max_length=100)]
    domiq_conversation_id: uuid.UUID
    merge_strategy: Literal["resman_wins", "domiq_wins", "manual_review"]
    merge_fields: Annotated[list[MergeField], Field(min_length=1)]
    #: Explicit final values (win over the strategy; the field is merged even if not named
    #: in merge_fields), checked and normalised like the lead API's.
    conflict_resolution: SyncFieldValues | None = None
    notes: Annotated[str, Strict(), Field(max_length=4000)] | None = None


class MergeSummary(BaseModel):
    fields_merged: list[str]
    fields_conflicted: list[str]
    final_values: dict[str, Any]


class MergeLeadsResponse(BaseModel):
    success: bool
    merged_lead_id: str
    conflicts_resolved: int
    merge_summary: MergeSummary
    sync_log_id: uuid.UUID
