"""Merging two records that were never linked, and fields held apart afterwards."""

from __future__ import annotations

from typing import Any

from leadsync.merge import APART_KEY, MergeRules, Strategy, agreed, merge, merge_records

OURS = {"first_name": "Maria", "last_name": "Gomez", "email": "maria@gmail.com", "status": "new"}
THEIRS = {"first_name": "Mary", "last_name": "Gomez-Ruiz", "email": None, "status": "contacted"}
#: ResMan once the merge's push of the email has landed.
PUSHED = {**THEIRS, "email": "maria@gmail.com"}


def _records(**kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "domiq": OURS,
        "resman": THEIRS,
        "chosen": ["email"],
        "explicit": {},
        "strategy": Strategy.MANUAL_REVIEW,
    }
    return merge_records(**{**options, **kwargs})


def test_fields_not_named_are_held_apart_and_the_next_merge_sees_nothing() -> None:
    merged = _records()
    assert merged.to_domiq == {}
    assert merged.result.to_resman == {"email": "maria@gmail.com"}
    assert merged.fields_conflicted == []
    base = merged.result.new_base
    assert base["last_name"] == "Gomez"
    assert base[APART_KEY] == {
        "first_name": "Mary",
        "last_name": "Gomez-Ruiz",
        "status": "contacted",
    }
    # The next sync, with the email now on both sides: nothing moves, nothing conflicts.
    after = merge(
        base=base,
        domiq=OURS,
        resman=PUSHED,
        rules=MergeRules(strategy=Strategy.MANUAL_REVIEW),
    )
    assert (after.to_domiq, after.to_resman, after.conflicts) == ({}, {}, [])
    assert after.outcome("last_name").kind == "apart"
    assert after.new_base[APART_KEY] == base[APART_KEY]


def test_a_later_change_on_one_side_of_a_field_held_apart_is_taken() -> None:
    base = _records().result.new_base
    rules = MergeRules(strategy=Strategy.MANUAL_REVIEW)
    office = merge(base=base, domiq=OURS, resman={**PUSHED, "last_name": "Ruiz"}, rules=rules)
    assert office.to_domiq == {"last_name": "Ruiz"}
    assert office.conflicts == []
    assert "last_name" not in office.new_base[APART_KEY]  # agreed again
    chatbot = merge(base=base, domiq={**OURS, "first_name": "Marie"}, resman=PUSHED, rules=rules)
    assert chatbot.to_resman == {"first_name": "Marie"}
    both = merge(
        base=base,
        domiq={**OURS, "first_name": "Marie"},
        resman={**PUSHED, "first_name": "Mara"},
        rules=rules,
    )
    [conflict] = both.conflicts
    assert (conflict.field, conflict.base) == ("first_name", "Maria")
    assert both.new_base[APART_KEY]["first_name"] == "Mary"  # still apart while parked


def test_a_merge_of_some_fields_keeps_the_others_apart() -> None:
    base = _records().result.new_base
    only_status = merge(
        base=base,
        domiq=OURS,
        resman={**PUSHED, "status": "application"},
        rules=MergeRules(),
        fields=["status"],
    )
    assert only_status.to_domiq == {"status": "application"}
    assert only_status.new_base[APART_KEY] == {"first_name": "Mary", "last_name": "Gomez-Ruiz"}


def test_agreed_ends_holding_apart() -> None:
    base = _records().result.new_base
    settled = agreed(base, {"first_name": "Mary"})
    assert settled["first_name"] == "Mary"
    assert "first_name" not in settled[APART_KEY]
    assert agreed({"phone": "+1"}, {"phone": "+2"}) == {"phone": "+2"}


def test_explicit_values_reach_both_sides_and_conflicts_count_once() -> None:
    merged = _records(
        chosen=["first_name", "last_name", "email"],
        explicit={"last_name": "Gomez", "first_name": "Marie"},
        strategy=Strategy.RESMAN_WINS,
    )
    assert merged.final_values == {
        "first_name": "Marie",
        "last_name": "Gomez",
        "email": "maria@gmail.com",
    }
    assert merged.to_domiq == {"first_name": "Marie"}
    assert merged.result.to_resman == {
        "first_name": "Marie",
        "last_name": "Gomez",
        "email": "maria@gmail.com",
    }
    # first_name and last_name differed; the email was on one side only.
    assert merged.conflicts_resolved == 2


def test_manual_review_parks_named_conflicts() -> None:
    merged = _records(chosen=["first_name", "email"])
    assert merged.fields_conflicted == ["first_name"]
    assert merged.conflicts_resolved == 0
    assert merged.final_values == {"email": "maria@gmail.com"}
