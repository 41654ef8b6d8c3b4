"""The DomIQ-side lead as the sync engine sees it: plain, comparable values."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

#: Fields the three-way merge compares and the push writes (in a stable order).
SYNC_FIELDS: tuple[str, ...] = (
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
)


@dataclass(frozen=True, slots=True)
class PetInfo:
    pet_type: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class LeadFields:
    """Syncable fields of a lead, already normalised (E.164 phone, lower-case email)."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    move_in_date: date | None = None
    budget_min: Decimal | None = None
    budget_max: Decimal | None = None
    bedrooms: int | None = None
    occupants: int | None = None
    pets: tuple[PetInfo, ...] = ()
    status: str = "new"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LeadNarrative:
    """What the office reads about the chat: goes into event comments, never compared."""

    initial_message: str | None = None
    transcript_summary: str | None = None
    lead_score: int | None = None
    desired_features: tuple[str, ...] = ()
    work_location: str | None = None
    reason_for_moving: str | None = None
    apartment_size_preference: str | None = None


def fields_to_json(fields: LeadFields) -> dict[str, Any]:
    """A JSON-safe snapshot (queue payloads and base snapshots are JSON columns)."""
    return {
        "first_name": fields.first_name,
        "last_name": fields.last_name,
        "email": fields.email,
        "phone": fields.phone,
        "move_in_date": fields.move_in_date.isoformat() if fields.move_in_date else None,
        "budget_min": str(fields.budget_min) if fields.budget_min is not None else None,
        "budget_max": str(fields.budget_max) if fields.budget_max is not None else None,
        "bedrooms": fields.bedrooms,
        "occupants": fields.occupants,
        "pets": [{"pet_type": p.pet_type, "count": p.count} for p in fields.pets],
        "status": fields.status,
    }


def fields_from_json(data: dict[str, Any]) -> LeadFields:
    def dec(value: Any) -> Decimal | None:
        return Decimal(str(value)) if value is not None else None

    move_in = data.get("move_in_date")
    return LeadFields(
        first_name=data.get("first_name"),
        last_name=data.get("last_name"),
        email=data.get("email"),
        phone=data.get("phone"),
        move_in_date=date.fromisoformat(move_in) if move_in else None,
        budget_min=dec(data.get("budget_min")),
        budget_max=dec(data.get("budget_max")),
        bedrooms=data.get("bedrooms"),
        occupants=data.get("occupants"),
        pets=tuple(PetInfo(p["pet_type"], int(p.get("count", 1))) for p in data.get("pets", [])),
        status=data.get("status", "new"),
    )


def narrative_to_json(narrative: LeadNarrative) -> dict[str, Any]:
    data = asdict(narrative)
    data["desired_features"] = list(narrative.desired_features)
    return data


def narrative_from_json(data: dict[str, Any]) -> LeadNarrative:
    return LeadNarrative(
        initial_message=data.get("initial_message"),
        transcript_summary=data.get("transcript_summary"),
        lead_score=data.get("lead_score"),
        desired_features=tuple(data.get("desired_features") or ()),
        work_location=data.get("work_location"),
        reason_for_moving=data.get("reason_for_moving"),
        apartment_size_preference=data.get("apartment_size_preference"),
    )


def restrict(fields: LeadFields, only: set[str] | frozenset[str]) -> LeadFields:
    """Keep only the named fields; the others become empty, which the MITS builder omits
    (an omitted element leaves ResMan's value as it is)."""
    return LeadFields(
        first_name=fields.first_name if "first_name" in only else None,
        last_name=fields.last_name if "last_name" in only else None,
        email=fields.email if "email" in only else None,
        phone=fields.phone if "phone" in only else None,
        move_in_date=fields.move_in_date if "move_in_date" in only else None,
        budget_min=fields.budget_min if "budget_min" in only else None,
        budget_max=fields.budget_max if "budget_max" in only else None,
        bedrooms=fields.bedrooms if "bedrooms" in only else None,
        occupants=fields.occupants if "occupants" in only else None,
        pets=fields.pets if "pets" in only else (),
        status=fields.status,
    )
