"""A conversation's record as the sync engine sees it: its fields in (``apply_fields``) and
out (``conversation_fields``), and the status history every status change leaves.

One place for both directions, so the push, the pull, the write-back and the services can
never disagree on how a stored conversation reads as LeadFields.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, StatusHistory
from leadsync.mapping.lead import LeadFields, PetInfo


def _pets(has_pets: bool | None, details: dict[str, Any] | None) -> tuple[PetInfo, ...]:
    if not has_pets and not details:
        return ()
    details = details or {}
    return (PetInfo(str(details.get("type") or "pet"), int(details.get("count") or 1)),)


def shares_contact(email: str | None, phone: str | None) -> ColumnElement[bool] | None:
    """Conversations with this email or this phone (both indexed); None when there is
    neither, so nothing can match."""
    clauses = [
        column == value
        for column, value in ((Conversation.email, email), (Conversation.phone, phone))
        if value
    ]
    return or_(*clauses) if clauses else None


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


def record_status(
    session: AsyncSession,
    *,
    conv: Conversation,
    old: str | None,
    source: str,
    changed_by: str,
) -> None:
    """A status_history row for ``conv``'s status change from ``old`` (None: a new lead).
    Adds to the caller's transaction; nothing when the status did not change."""
    if old == conv.status:
        return
    session.add(
        StatusHistory(
            conversation_id=conv.id,
            old_status=old,
            new_status=conv.status,
            source=source,
            changed_by=changed_by,
        )
    )
