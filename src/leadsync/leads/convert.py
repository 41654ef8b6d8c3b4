"""Request bodies <-> stored conversation <-> the engine's LeadFields (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from leadsync.db.models import Conversation
from leadsync.leads.schemas import LeadData, PetDetails, UpdateLeadRequest
from leadsync.mapping.lead import LeadFields, LeadNarrative, PetInfo
from leadsync.mapping.to_resman import parse_bedrooms


def _pets(has_pets: bool | None, details: dict[str, Any] | None) -> tuple[PetInfo, ...]:
    if not has_pets and not details:
        return ()
    details = details or {}
    return (PetInfo(str(details.get("type") or "pet"), int(details.get("count") or 1)),)


def conversation_fields(conv: Conversation) -> LeadFields:
    return LeadFields(
        first_name=conv.first_name,
        last_name=conv.last_name,
        email=conv.email,
        phone=conv.phone,
        move_in_date=conv.move_in_date,
        budget_min=Decimal(conv.budget_min) if conv.budget_min is not None else None,
        budget_max=Decimal(conv.budget_max) if conv.budget_max is not None else None,
        bedrooms=conv.bedrooms,
        occupants=conv.occupants,
        pets=_pets(conv.has_pets, conv.pet_details),
        status=conv.status,
    )


def conversation_narrative(conv: Conversation) -> LeadNarrative:
    extra = (conv.context or {}).get("chatbot", {})
    return LeadNarrative(
        initial_message=conv.initial_message,
        transcript_summary=conv.transcript_summary,
        lead_score=conv.lead_score,
        desired_features=tuple(extra.get("desired_features") or ()),
        work_location=extra.get("work_location"),
        reason_for_moving=extra.get("reason_for_moving"),
        apartment_size_preference=extra.get("apartment_size_preference"),
    )


def _pet_json(details: PetDetails | None) -> dict[str, Any] | None:
    return details.model_dump() if details is not None else None


def apply_lead_data(conv: Conversation, data: LeadData) -> None:
    """Write a full lead (POST) onto the conversation."""
    conv.first_name = data.first_name
    conv.last_name = data.last_name
    conv.email = data.email
    conv.phone = data.phone
    conv.move_in_date = data.move_in_date
    conv.budget_min = round(data.budget_range.min) if data.budget_range else None
    conv.budget_max = round(data.budget_range.max) if data.budget_range else None
    conv.bedrooms = parse_bedrooms(data.apartment_size_preference)
    conv.occupants = data.occupants_count
    conv.has_pets = data.has_pets
    conv.pet_details = _pet_json(data.pet_details)
    conv.lead_score = round(data.lead_score)
    conv.initial_message = data.initial_message
    conv.transcript_summary = data.transcript_summary
    context = dict(conv.context or {})
    context["chatbot"] = {
        "desired_features": data.desired_features or [],
        "work_location": data.work_location,
        "reason_for_moving": data.reason_for_moving,
        "apartment_size_preference": data.apartment_size_preference,
    }
    conv.context = context


def apply_update(conv: Conversation, update: UpdateLeadRequest) -> None:
    """Write only the fields the PATCH named (an explicit null clears a field)."""
    given = update.model_fields_set
    for name in ("first_name", "last_name", "email", "phone", "move_in_date", "has_pets"):
        if name in given:
            setattr(conv, name, getattr(update, name))
    if "budget_range" in given:
        rng = update.budget_range
        conv.budget_min = round(rng.min) if rng else None
        conv.budget_max = round(rng.max) if rng else None
    if "apartment_size_preference" in given:
        conv.bedrooms = parse_bedrooms(update.apartment_size_preference)
    if "occupants_count" in given:
        conv.occupants = update.occupants_count
    if "pet_details" in given:
        conv.pet_details = _pet_json(update.pet_details)
    if "lead_score" in given and update.lead_score is not None:
        conv.lead_score = round(update.lead_score)


def apply_fields(conv: Conversation, changes: dict[str, Any]) -> None:
    """Write engine-side values (the JSON snapshot form of LeadFields) onto the conversation."""
    for name, value in changes.items():
        if name in ("first_name", "last_name", "email", "phone"):
            setattr(conv, name, value)
        elif name == "move_in_date":
            conv.move_in_date = date.fromisoformat(value) if value else None
        elif name in ("budget_min", "budget_max"):
            setattr(conv, name, round(Decimal(str(value))) if value is not None else None)
        elif name in ("bedrooms", "occupants"):
            setattr(conv, name, value)
        elif name == "pets":
            pets = list(value or [])
            conv.has_pets = bool(pets)
            conv.pet_details = (
                {"type": pets[0]["pet_type"], "count": int(pets[0].get("count", 1))}
                if pets
                else None
            )
        elif name == "status":
            conv.status = str(value)
        else:
            raise ValueError(f"unknown lead field {name!r}")
