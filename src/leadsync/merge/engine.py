"""Three-way merge of one lead: base snapshot, DomIQ value and ResMan value, field by field.

- A field changed on one side only is taken; equal values on both sides are never a conflict.
- A true conflict (both sides changed it, to different values) goes to the field's rule, then
  to status priority (for ``status``), then to the integration's strategy.
- Echo suppression falls out of the comparison: a value we wrote comes back equal to the base,
  so that side did not change and nothing moves.
- Everything is compared in canonical form (:mod:`leadsync.merge.values`), and the merged
  values are canonical.

``kind`` says what happened on the two sides; ``resolution`` says which rule decided when
the plain three-way rule did not (true conflicts, and ``always_*`` rules overriding the other
side), else None.

Fields held apart: a person may link two records and leave a field different on purpose
(the merge API's fields not named). The base then holds one value per side for that field:
``base[field]`` is DomIQ's, ``base[APART_KEY][field]`` ResMan's. Nothing moves while neither
side changes it ("apart", not a conflict); a change on one side is taken as usual, and once
both sides hold the same value the field is agreed again and the second value is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from leadsync.mapping.lead import SYNC_FIELDS
from leadsync.mapping.status import STATUS_PRIORITY, LeadStatus
from leadsync.merge.rules import FieldRule, MergeRules, Strategy
from leadsync.merge.values import is_blank, normalize_value

Kind = Literal[
    "unchanged",
    "same_change",
    "domiq_only",
    "resman_only",
    "conflict_resolved",
    "conflict_open",
    "not_synced",
    "apart",
]
#: Kinds after which both sides hold ``merged`` and the base moves to it.
SETTLED_KINDS: frozenset[str] = frozenset(
    {"unchanged", "same_change", "domiq_only", "resman_only", "conflict_resolved"}
)
STATUS_PRIORITY_RESOLUTION = "status_priority"
#: Key of a base snapshot holding ResMan's side of the fields held apart (see above).
APART_KEY = "_apart"
_ALWAYS = {FieldRule.ALWAYS_RESMAN: "resman", FieldRule.ALWAYS_DOMIQ: "domiq"}
_PREFER = {
    FieldRule.PREFER_RESMAN_UNLESS_BLANK: "resman",
    FieldRule.PREFER_DOMIQ_UNLESS_BLANK: "domiq",
}


@dataclass(frozen=True, slots=True)
class FieldOutcome:
    """One field's merge; the three inputs are shown in canonical form."""

    field: str
    base: Any
    domiq: Any
    resman: Any
    merged: Any
    kind: Kind
    resolution: str | None = None
    #: ResMan's side of the base, as a 1-tuple, while the field is held apart (else None).
    resman_base: tuple[Any] | None = None

    @property
    def settled(self) -> bool:
        return self.kind in SETTLED_KINDS


@dataclass(frozen=True, slots=True)
class MergeResult:
    outcomes: tuple[FieldOutcome, ...]
    #: ResMan-side bases of fields held apart that this merge did not look at (kept as-is).
    apart_elsewhere: Mapping[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, Any]:
        """Merged values; an open conflict or an unsynced field keeps the DomIQ value."""
        return {o.field: o.merged for o in self.outcomes}

    @property
    def to_domiq(self) -> dict[str, Any]:
        """What the caller writes to the conversation (open conflicts and unsynced fields
        keep the DomIQ value, so they never show up here)."""
        return {o.field: o.merged for o in self.outcomes if o.merged != o.domiq}

    @property
    def to_resman(self) -> dict[str, Any]:
        """What the caller pushes to ResMan."""
        return {o.field: o.merged for o in self.outcomes if o.settled and o.merged != o.resman}

    @property
    def new_base(self) -> dict[str, Any]:
        """The base to store: merged values, but the old base where nothing was agreed
        (with ResMan's side of the fields still held apart)."""
        base: dict[str, Any] = {o.field: o.merged if o.settled else o.base for o in self.outcomes}
        apart = dict(self.apart_elsewhere)
        for o in self.outcomes:
            if not o.settled and o.resman_base is not None:
                apart[o.field] = o.resman_base[0]
        if apart:
            base[APART_KEY] = apart
        return base

    @property
    def conflicts(self) -> list[FieldOutcome]:
        """Open conflicts, parked for a person (manual_review)."""
        return [o for o in self.outcomes if o.kind == "conflict_open"]

    @property
    def resolved(self) -> list[FieldOutcome]:
        """True conflicts a rule decided."""
        return [o for o in self.outcomes if o.kind == "conflict_resolved"]

    @property
    def base_changed(self) -> bool:
        return any(o.settled and o.merged != o.base for o in self.outcomes)

    @property
    def changed(self) -> bool:
        """Anything to write: to either side, or a new base (both sides made the same change)."""
        return bool(self.to_domiq or self.to_resman or self.base_changed)

    def outcome(self, field_name: str) -> FieldOutcome:
        for o in self.outcomes:
            if o.field == field_name:
                return o
        raise KeyError(field_name)


def agreed(base: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``values`` recorded as agreed by both sides (no longer held apart)."""
    new = {**base, **values}
    apart = {k: v for k, v in (base.get(APART_KEY) or {}).items() if k not in values}
    new.pop(APART_KEY, None)
    if apart:
        new[APART_KEY] = apart
    return new


def merge(
    *,
    base: Mapping[str, Any],
    domiq: Mapping[str, Any],
    resman: Mapping[str, Any],
    rules: MergeRules,
    fields: Sequence[str] = SYNC_FIELDS,
) -> MergeResult:
    """Merge ``fields`` of three snapshots. A key missing from a snapshot counts as blank, so
    pass only the fields both sides carry."""
    names = tuple(dict.fromkeys(fields))  # keeps order, drops repeats
    apart: Mapping[str, Any] = base.get(APART_KEY) or {}
    return MergeResult(
        tuple(
            merge_field(
                name,
                base=base.get(name),
                domiq=domiq.get(name),
                resman=resman.get(name),
                rules=rules,
                resman_base=(apart[name],) if name in apart else None,
            )
            for name in names
        ),
        {name: value for name, value in apart.items() if name not in names},
    )


def merge_field(
    field_name: str,
    *,
    base: Any,
    domiq: Any,
    resman: Any,
    rules: MergeRules,
    resman_base: tuple[Any] | None = None,
) -> FieldOutcome:
    """``resman_base`` is ResMan's side of the base when the field is held apart."""
    b = normalize_value(field_name, base)
    d = normalize_value(field_name, domiq)
    r = normalize_value(field_name, resman)
    rb = normalize_value(field_name, resman_base[0]) if resman_base is not None else b
    apart = (rb,) if rb != b else None

    def outcome(merged: Any, kind: Kind, resolution: str | None = None) -> FieldOutcome:
        settled = kind in SETTLED_KINDS
        return FieldOutcome(
            field_name, b, d, r, merged, kind, resolution, None if settled else apart
        )

    rule = rules.rule_for(field_name)
    if rule == FieldRule.DONT_SYNC:
        return outcome(d, "not_synced")
    if d == r:
        return outcome(d, "unchanged" if d == b == rb else "same_change")
    if d == b and r == rb:
        # Only reachable while held apart: neither side changed its own value.
        return outcome(d, "apart")
    if d == b:
        kind: Kind = "resman_only"
    elif r == rb:
        kind = "domiq_only"
    else:
        kind = "conflict_resolved"

    if rule in _ALWAYS:
        winner = r if _ALWAYS[rule] == "resman" else d
        return outcome(winner, kind, rule.value)
    if kind == "resman_only":
        return outcome(r, kind)
    if kind == "domiq_only":
        return outcome(d, kind)
    merged, settled, resolution = _resolve_conflict(field_name, d=d, r=r, rule=rule, rules=rules)
    return outcome(merged, "conflict_resolved" if settled else "conflict_open", resolution)


def _resolve_conflict(
    field_name: str, *, d: Any, r: Any, rule: FieldRule, rules: MergeRules
) -> tuple[Any, bool, str]:
    """(merged value, settled?, resolution) of a true conflict."""
    if rule in _PREFER:
        preferred, other = (r, d) if _PREFER[rule] == "resman" else (d, r)
        return (other if is_blank(preferred) else preferred), True, rule.value
    if rules.uses_status_priority(field_name):
        winner = _higher_priority_status(d, r)
        if winner is not None:
            return winner, True, STATUS_PRIORITY_RESOLUTION
    if rules.strategy == Strategy.RESMAN_WINS:
        return r, True, Strategy.RESMAN_WINS.value
    if rules.strategy == Strategy.DOMIQ_WINS:
        return d, True, Strategy.DOMIQ_WINS.value
    # Parked: DomIQ keeps its value and the base stays, so the conflict shows again next time
    # until a person decides; the lead's other fields keep syncing meanwhile.
    return d, False, Strategy.MANUAL_REVIEW.value


def _higher_priority_status(a: Any, b: Any) -> Any:
    """The status with the lower STATUS_PRIORITY number; None when either is not one of ours
    (an unknown or blank status has no priority, so the strategy decides)."""
    try:
        pa, pb = STATUS_PRIORITY[LeadStatus(a)], STATUS_PRIORITY[LeadStatus(b)]
    except ValueError:
        return None
    return a if pa <= pb else b
