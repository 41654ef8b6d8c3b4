"""A value a person gives for one sync field (the merge API's ``conflict_resolution``, a
conflict resolved with a value) is checked like the lead API checks it, then canonicalised.

Without this a value that ResMan can never hold (an invalid email the overwrite guard keeps
out of ResMan, an unparsable date) would be written on our side only, and the two sides
would disagree for good while the answer claimed they agree.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator

from leadsync.leads.schemas import ContactFields, Count, Name, Number, _Strict
from leadsync.mapping.lead import SYNC_FIELDS
from leadsync.mapping.normalize import normalize_name
from leadsync.mapping.status import LeadStatus
from leadsync.merge import normalize_value

Budget = Annotated[Number, Field(ge=0, le=1_000_000)]


class PetValue(_Strict):
    pet_type: Annotated[str, Field(min_length=1, max_length=50)]
    count: Annotated[Count, Field(ge=1, le=20)] = 1


class SyncFieldValues(ContactFields):
    """Explicit values of sync fields, by their snapshot names; null clears a field."""

    first_name: Name | None = None
    last_name: Name | None = None
    move_in_date: date | None = None
    budget_min: Budget | None = None
    budget_max: Budget | None = None
    bedrooms: Annotated[Count, Field(ge=0, le=10)] | None = None
    occupants: Annotated[Count, Field(ge=1, le=20)] | None = None
    pets: Annotated[list[PetValue], Field(max_length=20)] | None = None
    status: LeadStatus | None = None

    @field_validator("first_name", "last_name")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = normalize_name(value)
        if name is None:
            raise ValueError("must not be blank")
        return name

    @field_validator("status", mode="before")
    @classmethod
    def _status_given(cls, value: object) -> object:
        if value is None:
            raise ValueError("a lead always has a status")
        return value

    def snapshot(self) -> dict[str, Any]:
        """The given fields in the merge's canonical snapshot form."""
        data = self.model_dump(mode="json", include=self.model_fields_set)
        return {name: normalize_value(name, data[name]) for name in SYNC_FIELDS if name in data}


assert set(SyncFieldValues.model_fields) == set(SYNC_FIELDS)


class InvalidValueError(ValueError):
    """A value the lead API would refuse; ``message`` says why, for the person who gave it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"invalid value for {field}: {message}")
        self.field = field
        self.message = message


def validate_value(field: str, value: Any) -> Any:
    """The canonical form of ``value`` for ``field``; InvalidValueError if the lead API
    would refuse it (a bad email, phone or date, a blank name, an unknown status...)."""
    if field not in SYNC_FIELDS:
        raise InvalidValueError(field, "not a sync field")
    try:
        checked = SyncFieldValues.model_validate({field: value})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidValueError(field, str(first["msg"]).removeprefix("Value error, ")) from None
    return checked.snapshot()[field]
