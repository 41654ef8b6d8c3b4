"""Request and response shapes of the leads API (the spec's CreateLeadRequest/Response).

Strict: wrong types are rejected rather than coerced ("85" is not a lead score), unknown
fields are named back to the client (a typo like "emial" must not silently drop data), and
emails and phones are normalised here so everything behind the API sees canonical values.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from leadsync.mapping.normalize import normalize_email, normalize_name, normalize_phone

# Strict scalars: "85" is not a number and "yes" not a boolean. UUIDs, dates and datetimes
# stay lax because JSON can only carry them as strings.
Name = Annotated[str, Strict(), Field(min_length=1, max_length=100)]
ShortText = Annotated[str, Strict(), Field(max_length=500)]
LongText = Annotated[str, Strict(), Field(max_length=8000)]
Number = Annotated[float, Strict()]  # strict float still takes JSON integers
Count = Annotated[int, Strict()]
Flag = Annotated[bool, Strict()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BudgetRange(_Strict):
    """A monthly rent range in dollars; ``min`` must not exceed ``max`` (422 otherwise)."""

    # JSON Schema cannot compare two fields: the rule is stated for readers and tools.
    model_config = ConfigDict(json_schema_extra={"x-rules": ["min <= max"]})

    min: Annotated[Number, Field(ge=0, le=1_000_000)]
    max: Annotated[Number, Field(ge=0, le=1_000_000)]

    @model_validator(mode="after")
    def _ordered(self) -> BudgetRange:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class PetDetails(_Strict):
    type: Annotated[str, Strict(), Field(min_length=1, max_length=50)] = "pet"
    count: Annotated[Count, Field(ge=1, le=20)] = 1
    notes: ShortText | None = None


def _email(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    normalized = normalize_email(value)
    if normalized is None:
        raise ValueError("not a valid email address")
    return normalized


def _phone(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    normalized = normalize_phone(value)
    if normalized is None:
        raise ValueError("not a valid phone number")
    return normalized


class ContactFields(_Strict):
    """Fields shared by a new lead and a contact update."""

    email: Annotated[str, Strict(), Field(max_length=254)] | None = None
    phone: Annotated[str, Strict(), Field(max_length=40)] | None = None

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("phone")
    @classmethod
    def _check_phone(cls, value: str | None) -> str | None:
        return _phone(value)


class LeadData(ContactFields):
    first_name: Name
    last_name: Name
    property_id: uuid.UUID
    source: Literal["chatbot"] = "chatbot"
    initial_message: LongText
    lead_score: Annotated[Number, Field(ge=0, le=100)]
    move_in_date: date | None = None
    budget_range: BudgetRange | None = None
    apartment_size_preference: Annotated[str, Strict(), Field(max_length=50)] | None = None
    occupants_count: Annotated[Count, Field(ge=1, le=20)] | None = None
    has_pets: Flag | None = None
    pet_details: PetDetails | None = None
    desired_features: Annotated[list[ShortText], Field(max_length=50)] | None = None
    work_location: ShortText | None = None
    reason_for_moving: ShortText | None = None
    #: Not in the spec's request: a summary of the chat, posted as event comments.
    transcript_summary: LongText | None = None

    @field_validator("first_name", "last_name")
    @classmethod
    def _names(cls, value: str) -> str:
        name = normalize_name(value)
        if name is None:
            raise ValueError("must not be blank")
        return name


class CreateLeadRequest(_Strict):
    conversation_id: uuid.UUID
    lead_data: LeadData


SyncStatus = Literal["success", "pending", "failed", "disabled"]


class CreateLeadResponse(BaseModel):
    success: bool
    #: ResMan's ProspectID; null while the push is still pending.
    resman_lead_id: str | None
    sync_status: SyncStatus
    created_at: datetime
    sync_log_id: uuid.UUID
    conversation_id: uuid.UUID


class UpdateLeadRequest(ContactFields):
    """PATCH /api/resman/leads/{conversation_id}: contact and preference changes."""

    first_name: Name | None = None
    last_name: Name | None = None
    move_in_date: date | None = None
    budget_range: BudgetRange | None = None
    apartment_size_preference: Annotated[str, Strict(), Field(max_length=50)] | None = None
    occupants_count: Annotated[Count, Field(ge=1, le=20)] | None = None
    has_pets: Flag | None = None
    pet_details: PetDetails | None = None
    lead_score: Annotated[Number, Field(ge=0, le=100)] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> UpdateLeadRequest:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        return self


class TourRequest(_Strict):
    """POST /api/resman/leads/{conversation_id}/tours: a tour booked by the chatbot."""

    tour_datetime: datetime
    duration_minutes: Annotated[Count, Field(ge=5, le=480)] = 30
    tour_type: Literal["in_person", "virtual", "self_guided"] = "in_person"
    unit_interest: Annotated[str, Strict(), Field(max_length=100)] | None = None
    notes: ShortText | None = None

    @field_validator("tour_datetime")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone offset (e.g. 2026-12-03T14:30:00-06:00)")
        return value


class UpdateResponse(BaseModel):
    success: bool
    conversation_id: uuid.UUID
    resman_lead_id: str | None
    sync_status: SyncStatus
    sync_log_id: uuid.UUID
    updated_at: datetime
