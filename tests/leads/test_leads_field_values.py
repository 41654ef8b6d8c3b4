"""A value a person gives for one sync field (the merge API's ``conflict_resolution``, a
conflict resolved with a value) is checked and canonicalised like the lead API does it."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.leads.field_values import InvalidValueError, validate_value


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("phone", "(737) 555-0000", "+17375550000"),
        ("email", " Maria@Gmail.COM ", "maria@gmail.com"),
        ("first_name", "  Ana   María ", "Ana María"),
        ("move_in_date", "2027-03-01", "2027-03-01"),
        ("budget_max", 1600, "1600"),
        ("pets", [{"pet_type": "Dog", "count": 2}], [{"pet_type": "dog", "count": 2}]),
        ("status", "lost", "lost"),
        ("email", None, None),
    ],
)
def test_values_are_normalised_like_the_lead_api(field: str, value: Any, expected: Any) -> None:
    assert validate_value(field, value) == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "maria at gmail", "not a valid email address"),
        ("phone", "555", "not a valid phone number"),
        ("move_in_date", "next week", "date"),
        ("first_name", "   ", "at least 1 character"),
        ("occupants", "3", "integer"),
        ("status", "archived", "'new'"),
        ("status", None, "always has a status"),
        ("nickname", "Mimi", "not a sync field"),
    ],
)
def test_values_the_lead_api_refuses_are_refused(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message) as raised:
        validate_value(field, value)
    assert raised.value.field == field
