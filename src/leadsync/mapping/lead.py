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
