"""Example-based merges: every kind, every rule, the status priority and the result views."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.mapping.status import STATUS_PRIORITY, LeadStatus
from leadsync.merge import FieldRule, MergeRules, Strategy, merge

BASE: dict[str, Any] = {
    "first_name": "Maria",
    "last_name": "Gomez",
    "email": "maria@gmail.com",
    "phone": "+15125550199",
    "move_in_date": "2027-01-15",
    "budget_min": "1200",
    "budget_max": "1600",
    "bedrooms": 2,
    "occupants": 2,
    "pets": [{"pet_type": "dog", "count": 1}],
    "status": "contacted",
}
NEW_PHONE = "+13125550100"
OTHER_PHONE = "+12125550100"


def _merge(domiq: dict[str, Any], resman: dict[str, Any], rules: MergeRules | None = None) -> Any:
    return merge(
        base=BASE, domiq={**BASE, **domiq}, resman={**BASE, **resman}, rules=rules or MergeRules()
    )


def test_nothing_changed() -> None:
    result = _merge({}, {})
    assert {o.kind for o in result.outcomes} == {"unchanged"}
    assert not result.changed
    assert (result.to_domiq, result.to_resman, result.conflicts) == ({}, {}, [])
    assert result.new_base == BASE


def test_a_change_on_one_side_is_taken() -> None:
    result = _merge({"email": "maria.g@outlook.com"}, {"phone": NEW_PHONE})
    assert result.outcome("email").kind == "domiq_only"
    assert result.outcome("phone").kind == "resman_only"
    assert result.to_resman == {"email": "maria.g@outlook.com"}
    assert result.to_domiq == {"phone": NEW_PHONE}
    assert result.new_base == {**BASE, "email": "maria.g@outlook.com", "phone": NEW_PHONE}
    assert result.conflicts == []
    assert result.resolved == []
    assert result.changed


def test_the_same_change_on_both_sides_only_moves_the_base() -> None:
    result = _merge({"bedrooms": 3}, {"bedrooms": "3"})
    o = result.outcome("bedrooms")
    assert (o.kind, o.merged, o.resolution) == ("same_change", 3, None)
    assert (result.to_domiq, result.to_resman) == ({}, {})
    assert result.new_base["bedrooms"] == 3
    assert result.changed
    assert result.base_changed


def test_a_side_blanking_a_value_is_a_change_too() -> None:
    result = _merge({}, {"occupants": None})
    assert result.to_domiq == {"occupants": None}


def test_echo_of_our_write_changes_nothing() -> None:
    # We pushed a new email; ResMan still shows the base (not yet applied) or the same value.
    pending = _merge({"email": "new@gmail.com"}, {})
    assert pending.to_resman == {"email": "new@gmail.com"}
    assert pending.to_domiq == {}
    echoed = merge(
        base=pending.new_base,
        domiq=pending.values,
        resman={**BASE, "email": "NEW@gmail.com "},
        rules=MergeRules(),
    )
    assert not echoed.changed


@pytest.mark.parametrize(
    ("strategy", "merged", "kind", "to_domiq", "to_resman"),
    [
        (Strategy.RESMAN_WINS, OTHER_PHONE, "conflict_resolved", True, False),
        (Strategy.DOMIQ_WINS, NEW_PHONE, "conflict_resolved", False, True),
        (Strategy.MANUAL_REVIEW, NEW_PHONE, "conflict_open", False, False),
    ],
)
def test_strategy_decides_a_true_conflict(
    strategy: Strategy, merged: str, kind: str, to_domiq: bool, to_resman: bool
) -> None:
    result = _merge({"phone": NEW_PHONE}, {"phone": OTHER_PHONE}, MergeRules(strategy))
    o = result.outcome("phone")
    assert (o.kind, o.merged, o.resolution) == (kind, merged, strategy.value)
    assert (o.base, o.domiq, o.resman) == (BASE["phone"], NEW_PHONE, OTHER_PHONE)
    assert ("phone" in result.to_domiq) is to_domiq
    assert ("phone" in result.to_resman) is to_resman


def test_manual_review_parks_one_field_and_syncs_the_others() -> None:
    result = _merge(
        {"phone": NEW_PHONE, "occupants": 3},
        {"phone": OTHER_PHONE, "bedrooms": 1},
        MergeRules(Strategy.MANUAL_REVIEW),
    )
    assert [c.field for c in result.conflicts] == ["phone"]
    assert result.values["phone"] == NEW_PHONE  # DomIQ keeps its value meanwhile
    assert result.new_base["phone"] == BASE["phone"]  # ...and the base stays for the reviewer
    assert result.to_domiq == {"bedrooms": 1}
    assert result.to_resman == {"occupants": 3}


@pytest.mark.parametrize(
    ("rule", "domiq", "resman", "merged", "resolution"),
    [
        # prefer_X_unless_blank decides only true conflicts...
        (
            FieldRule.PREFER_RESMAN_UNLESS_BLANK,
            NEW_PHONE,
            OTHER_PHONE,
            OTHER_PHONE,
            "prefer_resman_unless_blank",
        ),
        (
            FieldRule.PREFER_RESMAN_UNLESS_BLANK,
            NEW_PHONE,
            None,
            NEW_PHONE,
            "prefer_resman_unless_blank",
        ),
        (
            FieldRule.PREFER_DOMIQ_UNLESS_BLANK,
            NEW_PHONE,
            OTHER_PHONE,
            NEW_PHONE,
            "prefer_domiq_unless_blank",
        ),
        (
            FieldRule.PREFER_DOMIQ_UNLESS_BLANK,
            "",
            OTHER_PHONE,
            OTHER_PHONE,
            "prefer_domiq_unless_blank",
        ),
        # ...a one-sided change (even to blank) is still simply taken.
        (FieldRule.PREFER_DOMIQ_UNLESS_BLANK, BASE["phone"], None, None, None),
        (FieldRule.PREFER_RESMAN_UNLESS_BLANK, NEW_PHONE, BASE["phone"], NEW_PHONE, None),
        # always_X wins whenever the sides differ, even if only the other side changed.
        (FieldRule.ALWAYS_RESMAN, NEW_PHONE, BASE["phone"], BASE["phone"], "always_resman"),
        (FieldRule.ALWAYS_RESMAN, NEW_PHONE, OTHER_PHONE, OTHER_PHONE, "always_resman"),
        (FieldRule.ALWAYS_RESMAN, BASE["phone"], OTHER_PHONE, OTHER_PHONE, "always_resman"),
        (FieldRule.ALWAYS_DOMIQ, BASE["phone"], OTHER_PHONE, BASE["phone"], "always_domiq"),
        (FieldRule.ALWAYS_DOMIQ, NEW_PHONE, OTHER_PHONE, NEW_PHONE, "always_domiq"),
        (FieldRule.ALWAYS_DOMIQ, NEW_PHONE, NEW_PHONE, NEW_PHONE, None),
    ],
)
def test_field_rules(
    rule: FieldRule, domiq: Any, resman: Any, merged: Any, resolution: str | None
) -> None:
    # manual_review as the strategy: any settled conflict here was settled by the field rule.
    rules = MergeRules(Strategy.MANUAL_REVIEW, {"phone": rule})
    o = _merge({"phone": domiq}, {"phone": resman}, rules).outcome("phone")
    assert o.settled
    assert (o.merged, o.resolution) == (merged, resolution)


def test_always_rule_kind_reports_what_actually_happened() -> None:
    rules = MergeRules(field_rules={"phone": FieldRule.ALWAYS_RESMAN})
    result = _merge({"phone": NEW_PHONE}, {}, rules)
    o = result.outcome("phone")
    assert (o.kind, o.resolution) == ("domiq_only", "always_resman")
    assert result.to_domiq == {"phone": BASE["phone"]}  # DomIQ's edit is reverted
    assert result.to_resman == {}


def test_dont_sync_moves_nothing_either_way() -> None:
    rules = MergeRules(Strategy.RESMAN_WINS, {"pets": FieldRule.DONT_SYNC})
    result = _merge({"pets": []}, {"pets": [{"pet_type": "cat", "count": 2}]}, rules)
    o = result.outcome("pets")
    assert (o.kind, o.merged, o.resolution) == ("not_synced", [], None)
    assert (result.to_domiq, result.to_resman) == ({}, {})
    assert result.new_base["pets"] == BASE["pets"]
    assert not result.changed


@pytest.mark.parametrize(
    ("domiq", "resman"),
    [
        ("tour_scheduled", "qualified"),
        ("application", "leased"),
        ("new", "lost"),
        ("lost", "qualified"),
        ("leased", "lost"),
        ("qualified", "new"),
    ],
)
def test_status_conflicts_go_to_the_higher_priority(domiq: str, resman: str) -> None:
    result = _merge({"status": domiq}, {"status": resman}, MergeRules(Strategy.RESMAN_WINS))
    o = result.outcome("status")
    expected = min(domiq, resman, key=lambda s: STATUS_PRIORITY[LeadStatus(s)])
    assert (o.kind, o.merged, o.resolution) == ("conflict_resolved", expected, "status_priority")


def test_lost_loses_every_status_conflict() -> None:
    for status in LeadStatus:
        if status in (LeadStatus.LOST, LeadStatus.CONTACTED):  # contacted is the base
            continue
        result = _merge({"status": "lost"}, {"status": status.value})
        assert result.values["status"] == status.value


def test_status_priority_can_be_turned_off_or_overridden() -> None:
    off = MergeRules(Strategy.RESMAN_WINS, status_by_priority=False)
    assert _merge({"status": "leased"}, {"status": "lost"}, off).values["status"] == "lost"
    own_rule = MergeRules(field_rules={"status": FieldRule.ALWAYS_DOMIQ})
    result = _merge({"status": "new"}, {"status": "leased"}, own_rule)
    assert result.outcome("status").resolution == "always_domiq"
    assert result.values["status"] == "new"


def test_an_unknown_status_falls_back_to_the_strategy() -> None:
    result = _merge({"status": "on_hold"}, {"status": "leased"}, MergeRules(Strategy.DOMIQ_WINS))
    o = result.outcome("status")
    assert (o.merged, o.resolution) == ("on_hold", "domiq_wins")


def test_status_change_on_one_side_is_not_subject_to_priority() -> None:
    # A plain one-sided change, even to lower priority, is taken.
    result = _merge({}, {"status": "lost"})
    assert result.outcome("status").kind == "resman_only"
    assert result.to_domiq == {"status": "lost"}


def test_missing_keys_are_blank_and_fields_limit_the_merge() -> None:
    result = merge(
        base={}, domiq={"email": "a@gmail.com"}, resman={}, rules=MergeRules(), fields=["email"]
    )
    assert [o.field for o in result.outcomes] == ["email"]
    assert result.to_resman == {"email": "a@gmail.com"}
    with pytest.raises(KeyError):
        result.outcome("phone")


def test_values_come_out_canonical() -> None:
    result = _merge({"phone": "(312) 555-0100", "budget_max": "1800.00"}, {})
    assert result.to_resman == {"phone": NEW_PHONE, "budget_max": "1800"}
