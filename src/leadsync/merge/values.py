"""Canonical forms of snapshot values, so that formatting never looks like a change.

Snapshots are the JSON-safe dicts of :func:`leadsync.mapping.lead.fields_to_json`. Both sides
and the base are canonicalised before any comparison, and the merged values are canonical
too, so :func:`normalize_value` is idempotent (merging its output again changes nothing).

Nothing is thrown away to canonicalise: an email that is not a valid address stays as the
trimmed, lower-cased text, and an invalid phone as its digits; the merge must still see a
change to such a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from leadsync.mapping.normalize import (
    normalize_email,
    normalize_name,
    normalize_phone,
    phone_digits,
)

_NAME_FIELDS = frozenset({"first_name", "last_name"})
_DECIMAL_FIELDS = frozenset({"budget_min", "budget_max"})
_INT_FIELDS = frozenset({"bedrooms", "occupants"})


def canonical_email(value: str) -> str | None:
    email = normalize_email(value)
    if email is None:
        return value.strip().lower() or None
    # normalize_email lower-cases after validating; once more makes it a fixed point even for
    # the rare address whose lower-casing changes what the validator normalises.
    return normalize_email(email) or email


def canonical_phone(value: str) -> str | None:
    e164 = normalize_phone(value)
    if e164 is not None:
        return e164
    digits = phone_digits(value)
    # "+5125550199" is an invalid Peruvian number but its digits are a valid US one: trying
    # the digits too keeps the canonical form a fixed point.
    return normalize_phone(digits) or digits or None


def canonical_decimal(value: object) -> str | None:
    text = str(value).strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return str(number)
    if number.is_zero():
        return "0"
    # "1200.00" and "1200" are the same budget; format "f" avoids normalize()'s "1.2E+3".
    return format(number.normalize(), "f")


def _canonical_int(value: object) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON may carry 2 as 2.0
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            return text
    return _finite_or_text(value)


def _canonical_date(value: object) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return text
    return _finite_or_text(value)


def canonical_pets(value: object) -> list[dict[str, Any]]:
    """Sorted list of {pet_type, count}; order on either side carries no meaning."""
    if not isinstance(value, list | tuple):
        return []
    pets: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, Mapping):
            kind, count = item.get("pet_type"), item.get("count", 1)
        else:  # a PetInfo / resman Pet handed in directly
            kind, count = getattr(item, "pet_type", None), getattr(item, "count", 1)
        pet_type = normalize_name(str(kind)) if kind is not None else None
        if pet_type is None:
            continue
        pets.append({"pet_type": pet_type.lower(), "count": _canonical_int(count)})
    return sorted(pets, key=lambda p: (p["pet_type"], str(p["count"])))


def normalize_value(field: str, value: Any) -> Any:
    """The canonical form of one snapshot value; blank values ('' / whitespace) become None
    (an empty pet list stays [])."""
    if field == "pets":
        return canonical_pets(value)
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if field == "email":
        return canonical_email(str(value))
    if field == "phone":
        return canonical_phone(str(value))
    if field in _NAME_FIELDS:
        return normalize_name(str(value))
    if field in _DECIMAL_FIELDS:
        return canonical_decimal(value)
    if field in _INT_FIELDS:
        return _canonical_int(value)
    if field == "move_in_date":
        return _canonical_date(value)
    if field == "status":
        return str(value).strip().lower()
    if isinstance(value, str):
        return value.strip()
    return _finite_or_text(value)


def _finite_or_text(value: Any) -> Any:
    if (isinstance(value, float) and not math.isfinite(value)) or (
        isinstance(value, Decimal) and not value.is_finite()
    ):
        # NaN != NaN would make an untouched value look changed on every merge.
        return str(Decimal(value))
    return value


def is_blank(value: Any) -> bool:
    """Blank for prefer-unless-blank: no value at all (canonical None or no pets)."""
    return value is None or value == []


def normalize_snapshot(snapshot: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Canonical values of ``fields``; a missing key is blank."""
    return {name: normalize_value(name, snapshot.get(name)) for name in fields}
