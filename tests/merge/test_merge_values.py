from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.mapping.lead import SYNC_FIELDS, LeadFields, PetInfo, fields_from_json, fields_to_json
from leadsync.merge import is_blank, normalize_snapshot, normalize_value


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("email", " Maria.Gomez@GMAIL.com ", "maria.gomez@gmail.com"),
        # Invalid addresses are kept (trimmed, lower-cased): a typo is still data.
        ("email", " Maria@Gmail ", "maria@gmail"),
        ("email", "   ", None),
        ("phone", "(512) 555-0199", "+15125550199"),
        ("phone", "+1 512-555-0199", "+15125550199"),
        ("phone", "555-01", "55501"),
        # Invalid as written (+51 is Peru) but its digits are a valid US number.
        ("phone", "+5125550199", "+15125550199"),
        ("phone", "n/a", None),
        ("first_name", "  Mary   Ann ", "Mary Ann"),
        ("first_name", "", None),
        ("budget_min", "1200.00", "1200"),
        ("budget_min", "1200", "1200"),
        ("budget_min", 1200, "1200"),
        ("budget_min", Decimal("1350.50"), "1350.5"),
        ("budget_max", "0.00", "0"),
        ("budget_max", "about 1k", "about 1k"),
        ("budget_max", "NaN", "NaN"),
        ("bedrooms", "2", 2),
        ("bedrooms", 3, 3),
        ("move_in_date", date(2027, 1, 5), "2027-01-05"),
        ("move_in_date", " 2027-01-05 ", "2027-01-05"),
        ("move_in_date", "next spring", "next spring"),
        ("status", " Tour_Scheduled ", "tour_scheduled"),
        ("pets", None, []),
        (
            "pets",
            [{"pet_type": " Dog", "count": 1}, {"pet_type": "cat", "count": "2"}],
            [{"pet_type": "cat", "count": 2}, {"pet_type": "dog", "count": 1}],
        ),
        (
            "pets",
            [PetInfo("Dog", 2), {"pet_type": "  ", "count": 1}],
            [{"pet_type": "dog", "count": 2}],
        ),
        ("unknown_field", "  x ", "x"),
    ],
)
def test_canonical_forms(field: str, value: Any, expected: Any) -> None:
    assert normalize_value(field, value) == expected


def test_pet_order_carries_no_meaning() -> None:
    dog, cat = {"pet_type": "dog", "count": 1}, {"pet_type": "cat", "count": 1}
    assert normalize_value("pets", [dog, cat]) == normalize_value("pets", [cat, dog])


def test_blank_values() -> None:
    assert is_blank(None)
    assert is_blank([])
    assert not is_blank("0")
    assert not is_blank(0)


def test_snapshot_of_lead_fields_is_already_canonical() -> None:
    fields = LeadFields(
        first_name="Maria",
        email="maria@gmail.com",
        phone="+15125550199",
        move_in_date=date(2027, 1, 15),
        budget_min=Decimal(1200),
        pets=(PetInfo("dog"),),
        status="contacted",
    )
    snapshot = fields_to_json(fields)
    canonical = normalize_snapshot(snapshot, SYNC_FIELDS)
    assert canonical == snapshot
    assert fields_from_json(canonical) == fields


text_values = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.text("0123456789 +-().", max_size=16),
    st.emails(),
    st.integers(-5, 5000),
    st.decimals(allow_nan=True, allow_infinity=True, places=2),
    st.decimals(),
    st.floats(),
    st.dates().map(date.isoformat),
    st.lists(
        st.fixed_dictionaries({"pet_type": st.text(max_size=8), "count": st.integers(0, 4)}),
        max_size=3,
    ),
)


@given(field=st.sampled_from([*SYNC_FIELDS, "other"]), value=text_values)
def test_normalising_is_idempotent(field: str, value: Any) -> None:
    once = normalize_value(field, value)
    assert normalize_value(field, once) == once


@given(value=st.text(max_size=30))
def test_blank_text_is_none_for_every_scalar_field(value: str) -> None:
    for field in SYNC_FIELDS:
        if field != "pets" and not value.strip():
            assert normalize_value(field, value) is None
