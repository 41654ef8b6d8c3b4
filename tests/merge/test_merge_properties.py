"""Properties of the three-way merge, over small value pools so that equal, re-formatted and
different values on the three snapshots all come up often."""

from __future__ import annotations

from typing import Any

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from leadsync.mapping.lead import SYNC_FIELDS
from leadsync.mapping.status import LeadStatus
from leadsync.merge import (
    FieldOutcome,
    FieldRule,
    MergeResult,
    MergeRules,
    Strategy,
    merge,
    normalize_value,
)

DOG = {"pet_type": "dog", "count": 1}
CAT = {"pet_type": "Cat", "count": 2}
POOLS: dict[str, list[Any]] = {
    "first_name": ["Maria", "  Maria ", "Ann", "ann", None, ""],
    "last_name": ["Gomez", "Gomez  ", "Li", None],
    "email": ["maria@gmail.com", " MARIA@Gmail.com", "ann@yahoo.com", "maria@gmail", None, ""],
    "phone": ["+15125550199", "(512) 555-0199", "512.555.0199", "+13125550100", "555", None],
    "move_in_date": ["2027-01-15", "2027-02-01", None],
    "budget_min": ["1200", "1200.00", "1350.5", None],
    "budget_max": ["1600", "1600.0", "1800", None],
    "bedrooms": [1, 2, None],
    "occupants": [1, 3, None],
    "pets": [[], [DOG], [DOG, CAT], [CAT, DOG], None],
    "status": [s.value for s in LeadStatus] + ["Leased"],
}
MIRROR_RULE = {
    FieldRule.PREFER_RESMAN_UNLESS_BLANK: FieldRule.PREFER_DOMIQ_UNLESS_BLANK,
    FieldRule.PREFER_DOMIQ_UNLESS_BLANK: FieldRule.PREFER_RESMAN_UNLESS_BLANK,
    FieldRule.ALWAYS_RESMAN: FieldRule.ALWAYS_DOMIQ,
    FieldRule.ALWAYS_DOMIQ: FieldRule.ALWAYS_RESMAN,
}
MIRROR_WORD = {"resman": "domiq", "domiq": "resman"}

snapshots = st.fixed_dictionaries({name: st.sampled_from(pool) for name, pool in POOLS.items()})
rules_strategy = st.builds(
    MergeRules,
    strategy=st.sampled_from(Strategy),
    field_rules=st.dictionaries(st.sampled_from(SYNC_FIELDS), st.sampled_from(FieldRule)),
    status_by_priority=st.booleans(),
)


def _canon(snapshot: dict[str, Any], name: str) -> Any:
    return normalize_value(name, snapshot.get(name))


def _mirror(text: str | None) -> str | None:
    if text is None:
        return None
    for word, other in MIRROR_WORD.items():
        if word in text:
            return text.replace(word, other)
    return text


def _mirror_rules(rules: MergeRules) -> MergeRules:
    strategy = {
        Strategy.RESMAN_WINS: Strategy.DOMIQ_WINS,
        Strategy.DOMIQ_WINS: Strategy.RESMAN_WINS,
    }.get(rules.strategy, rules.strategy)
    return MergeRules(
        strategy=strategy,
        field_rules={f: MIRROR_RULE.get(r, r) for f, r in rules.field_rules.items()},
        status_by_priority=rules.status_by_priority,
    )


@given(base=snapshots, domiq=snapshots, resman=snapshots, rules=rules_strategy)
def test_conflict_only_when_both_sides_changed_differently(
    base: dict[str, Any], domiq: dict[str, Any], resman: dict[str, Any], rules: MergeRules
) -> None:
    result = merge(base=base, domiq=domiq, resman=resman, rules=rules)
    for o in result.outcomes:
        b, d, r = _canon(base, o.field), _canon(domiq, o.field), _canon(resman, o.field)
        true_conflict = b != d and b != r and d != r
        is_conflict = o.kind in ("conflict_open", "conflict_resolved")
        if rules.rule_for(o.field) == FieldRule.DONT_SYNC:
            assert o.kind == "not_synced"
        else:
            assert is_conflict == true_conflict
        if d == r:
            assert not is_conflict
        if o.kind == "conflict_open":
            assert rules.strategy == Strategy.MANUAL_REVIEW
            assert o in result.conflicts
        # A one-sided change is taken unless an always_* rule pins the other side.
        if o.kind == "domiq_only" and rules.rule_for(o.field) != FieldRule.ALWAYS_RESMAN:
            assert o.merged == d
        if o.kind == "resman_only" and rules.rule_for(o.field) != FieldRule.ALWAYS_DOMIQ:
            assert o.merged == r


@given(base=snapshots, domiq=snapshots, resman=snapshots, rules=rules_strategy)
def test_merging_the_applied_result_again_changes_nothing(
    base: dict[str, Any], domiq: dict[str, Any], resman: dict[str, Any], rules: MergeRules
) -> None:
    first = merge(base=base, domiq=domiq, resman=resman, rules=rules)
    again = merge(
        base=first.new_base,
        domiq={**domiq, **first.to_domiq},
        resman={**resman, **first.to_resman},
        rules=rules,
    )
    assert again.to_domiq == {}
    assert again.to_resman == {}
    assert not again.changed
    assert again.resolved == []
    # Parked conflicts stay parked, exactly as they were; no new ones appear.
    assert again.conflicts == first.conflicts
    assert again.new_base == first.new_base
    assert again.values == first.values
    assert {o.kind for o in again.outcomes} <= {"unchanged", "conflict_open", "not_synced"}


@given(base=snapshots, domiq=snapshots, rules=rules_strategy)
def test_our_own_write_coming_back_moves_nothing_to_domiq(
    base: dict[str, Any], domiq: dict[str, Any], rules: MergeRules
) -> None:
    echo = dict(base)  # ResMan shows exactly what we last agreed on
    result = merge(base=base, domiq=domiq, resman=echo, rules=rules)
    assert result.conflicts == []
    assert result.resolved == []
    # Only a field pinned to ResMan's value is written back over a DomIQ change.
    pinned = {f for f, r in rules.field_rules.items() if r == FieldRule.ALWAYS_RESMAN}
    assert set(result.to_domiq) <= pinned


@given(
    base=snapshots,
    domiq=snapshots,
    resman=snapshots,
    rules=rules_strategy,
    order=st.permutations(SYNC_FIELDS),
)
def test_fields_merge_independently(
    base: dict[str, Any],
    domiq: dict[str, Any],
    resman: dict[str, Any],
    rules: MergeRules,
    order: list[str],
) -> None:
    together = merge(base=base, domiq=domiq, resman=resman, rules=rules)
    one_by_one = [
        merge(base=base, domiq=domiq, resman=resman, rules=rules, fields=[f]).outcome(f)
        for f in SYNC_FIELDS
    ]
    assert list(together.outcomes) == one_by_one
    shuffled = merge(base=base, domiq=domiq, resman=resman, rules=rules, fields=order)
    assert {o.field: o for o in shuffled.outcomes} == {o.field: o for o in together.outcomes}


def _assert_mirrored(o: FieldOutcome, m: FieldOutcome) -> None:
    kinds = {"domiq_only": "resman_only", "resman_only": "domiq_only"}
    assert m.kind == kinds.get(o.kind, o.kind)
    assert m.resolution == _mirror(o.resolution)
    if o.settled:
        assert m.merged == o.merged


@given(base=snapshots, domiq=snapshots, resman=snapshots, rules=rules_strategy)
def test_swapping_the_sides_swaps_the_result(
    base: dict[str, Any], domiq: dict[str, Any], resman: dict[str, Any], rules: MergeRules
) -> None:
    result: MergeResult = merge(base=base, domiq=domiq, resman=resman, rules=rules)
    swapped = merge(base=base, domiq=resman, resman=domiq, rules=_mirror_rules(rules))
    for o, m in zip(result.outcomes, swapped.outcomes, strict=True):
        _assert_mirrored(o, m)
    assert swapped.to_domiq == result.to_resman
    assert swapped.to_resman == result.to_domiq
    assert swapped.new_base == result.new_base
    assert [c.field for c in swapped.conflicts] == [c.field for c in result.conflicts]


# --- normalisation ---------------------------------------------------------------------------
_AREA_CODES = ("512", "312", "212", "415", "737", "206")
valid_phones = st.builds(
    lambda area, exchange, line: f"+1{area}{exchange}{line:04d}",
    st.sampled_from(_AREA_CODES),
    st.integers(200, 999).map(str),
    st.integers(0, 9999),
).filter(lambda p: normalize_value("phone", p) == p)
_PHONE_FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
)


@st.composite
def phone_spellings(draw: st.DrawFn, number: str) -> str:
    parsed = phonenumbers.parse(number)
    text = phonenumbers.format_number(parsed, draw(st.sampled_from(_PHONE_FORMATS)))
    pad = draw(st.sampled_from(["", " ", "\t"]))
    return pad + text + pad


emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
    st.sampled_from(["gmail.com", "outlook.com", "utexas.edu", "maple-court.co.uk"]),
)


@st.composite
def email_spellings(draw: st.DrawFn, email: str) -> str:
    upper = draw(st.lists(st.booleans(), min_size=len(email), max_size=len(email)))
    text = "".join(c.upper() if u else c for c, u in zip(email, upper, strict=True))
    return draw(st.sampled_from(["", " ", "  "])) + text + draw(st.sampled_from(["", "\n"]))


@given(data=st.data(), phone=valid_phones, email=emails, rules=rules_strategy)
def test_formatting_never_creates_a_conflict(
    data: st.DataObject, phone: str, email: str, rules: MergeRules
) -> None:
    base = data.draw(snapshots)
    domiq = {
        **data.draw(snapshots),
        "phone": data.draw(phone_spellings(phone)),
        "email": data.draw(email_spellings(email)),
    }
    resman = {
        **data.draw(snapshots),
        "phone": data.draw(phone_spellings(phone)),
        "email": data.draw(email_spellings(email)),
    }
    result = merge(base=base, domiq=domiq, resman=resman, rules=rules)
    for name, canonical in (("phone", phone), ("email", email)):
        o = result.outcome(name)
        assert o.kind in ("unchanged", "same_change", "not_synced")
        assert o.merged == canonical
        assert name not in result.to_domiq
        assert name not in result.to_resman


@given(base=snapshots, phone=valid_phones, email=emails)
def test_a_reformatted_echo_is_still_an_echo(base: dict[str, Any], phone: str, email: str) -> None:
    base = {**base, "phone": phone, "email": email}
    parsed = phonenumbers.parse(phone)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    echo = {**base, "phone": national, "email": email.upper()}
    result = merge(base=base, domiq=base, resman=echo, rules=MergeRules())
    assert not result.changed
    assert {o.kind for o in result.outcomes} == {"unchanged"}
