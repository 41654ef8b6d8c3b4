"""Request bodies <-> stored conversation (pure). The engine's side of a conversation (its
LeadFields) is :mod:`leadsync.sync.records`."""

from __future__ import annotations

from typing import Any

from leadsync.db.models import Conversation
from leadsync.leads.schemas import LeadData, PetDetails, UpdateLeadRequest
from leadsync.mapping.lead import LeadNarrative
from leadsync.mapping.to_resman import parse_bedrooms


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
