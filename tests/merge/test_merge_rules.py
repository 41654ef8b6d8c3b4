from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.mapping.lead import SYNC_FIELDS
from leadsync.merge import FieldRule, MergeRules, Strategy


def test_defaults_park_conflicts_and_use_status_priority() -> None:
    rules = MergeRules()
    assert rules.strategy is Strategy.MANUAL_REVIEW
    assert rules.rule_for("phone") is FieldRule.TWO_WAY
    assert rules.uses_status_priority("status")
    assert not rules.uses_status_priority("phone")


def test_from_settings_reads_the_integration_columns() -> None:
    rules = MergeRules.from_settings(
        "resman_wins",
        {
            "field_rules": {"phone": "always_resman", "pets": "dont_sync"},
            "status_by_priority": False,
            "transaction_source_id": "17",  # another part of the service's key: ignored
        },
    )
    assert rules.strategy is Strategy.RESMAN_WINS
    assert rules.rule_for("phone") is FieldRule.ALWAYS_RESMAN
    assert rules.rule_for("pets") is FieldRule.DONT_SYNC
    assert rules.rule_for("email") is FieldRule.TWO_WAY
    assert not rules.status_by_priority


@pytest.mark.parametrize("settings", [None, {}, {"field_rules": None}])
def test_from_settings_without_rules(settings: dict[str, Any] | None) -> None:
    rules = MergeRules.from_settings("domiq_wins", settings)
    assert rules == MergeRules(strategy=Strategy.DOMIQ_WINS)


def test_an_own_rule_for_status_replaces_the_priority() -> None:
    rules = MergeRules.from_settings("manual_review", {"field_rules": {"status": "two_way"}})
    assert not rules.uses_status_priority("status")


@pytest.mark.parametrize(
    ("strategy", "settings", "named"),
    [
        ("newest_wins", {}, "newest_wins"),
        ("manual_review", {"field_rules": {"phone": "sometimes"}}, "sometimes"),
        ("manual_review", {"field_rules": {"fax": "two_way"}}, "fax"),
        ("manual_review", {"field_rules": {"phone": 1}}, "phone"),
        ("manual_review", {"field_rules": ["phone"]}, "field_rules"),
        ("manual_review", {"status_by_priority": "yes"}, "status_by_priority"),
    ],
)
def test_bad_settings_are_named(strategy: str, settings: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        MergeRules.from_settings(strategy, settings)


def test_rules_are_read_only_and_detached_from_the_input() -> None:
    source = {"phone": FieldRule.ALWAYS_RESMAN}
    rules = MergeRules(field_rules=source)
    source["email"] = FieldRule.DONT_SYNC
    assert rules.rule_for("email") is FieldRule.TWO_WAY
    with pytest.raises(TypeError):
        rules.field_rules["email"] = FieldRule.DONT_SYNC  # type: ignore[index]


@given(
    strategy=st.sampled_from(Strategy),
    field_rules=st.dictionaries(st.sampled_from(SYNC_FIELDS), st.sampled_from(FieldRule)),
    by_priority=st.booleans(),
)
def test_settings_round_trip(
    strategy: Strategy, field_rules: dict[str, FieldRule], by_priority: bool
) -> None:
    rules = MergeRules(strategy, field_rules, by_priority)
    assert MergeRules.from_settings(strategy.value, rules.to_settings()) == rules
