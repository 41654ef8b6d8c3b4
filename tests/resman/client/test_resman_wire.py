"""Search criteria and the wire's date format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from leadsync.resman.wire import format_wire_datetime, search_form

START = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
END = datetime(2024, 3, 1, 13, 0, 0, tzinfo=UTC)


def test_format_is_utc_without_offset_and_truncates_subseconds() -> None:
    eastern = timezone(timedelta(hours=-5))
    value = datetime(2024, 3, 1, 7, 30, 15, 999_999, tzinfo=eastern)
    assert format_wire_datetime(value) == "2024-03-01T12:30:15"


def test_years_before_1000_are_zero_padded() -> None:
    # Found by the API fuzzer: a pull from year 885 was sent as "885-..." and refused.
    assert format_wire_datetime(datetime(885, 3, 27, 2, 18, 45, tzinfo=UTC)) == (
        "0885-03-27T02:18:45"
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_wire_datetime(datetime(2024, 3, 1, 12, 0))


@pytest.mark.parametrize(
    ("kwargs", "form"),
    [
        (
            {"modified_start": START, "modified_end": END},
            {
                "ModifiedStartDateTime": "2024-03-01T12:00:00",
                "ModifiedEndDateTime": "2024-03-01T13:00:00",
            },
        ),
        ({"prospect_id": "abc"}, {"ProspectID": "abc"}),
        ({"email": "a@example.com"}, {"Email": "a@example.com"}),
        ({"phone": "+1 555 0100"}, {"Phone": "+1 555 0100"}),
        ({"first_name": "Ann", "last_name": "Lee"}, {"FirstName": "Ann", "LastName": "Lee"}),
    ],
)
def test_each_criterion_set(kwargs: dict[str, Any], form: dict[str, str]) -> None:
    assert search_form(**kwargs) == form


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"email": "a@example.com", "phone": "5550100"}, "exactly one"),
        ({"prospect_id": "x", "modified_start": START, "modified_end": END}, "exactly one"),
        ({"modified_start": START}, "both modified_start and modified_end"),
        ({"modified_end": END}, "both modified_start and modified_end"),
        ({"modified_start": END, "modified_end": START}, "before"),
        ({"modified_start": START, "modified_end": START}, "before"),
        ({"first_name": "Ann"}, "both first_name and last_name"),
        ({"last_name": "Lee"}, "both first_name and last_name"),
        ({"email": "  "}, "email must not be empty"),
        ({"first_name": "", "last_name": "Lee"}, "first_name must not be empty"),
    ],
)
def test_invalid_criteria(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        search_form(**kwargs)


def test_validation_messages_never_quote_values() -> None:
    with pytest.raises(ValueError, match="exactly one") as info:
        search_form(email="ann@example.com", phone="5550100")
    assert "ann@example.com" not in str(info.value)
    assert "5550100" not in str(info.value)
