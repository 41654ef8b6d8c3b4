"""Merge of two records that were never linked (the merge API): a ResMan prospect and a
DomIQ conversation found to be the same person.

Nothing was agreed between them before, so:

- a field named in ``merge_fields`` that both records hold with different values is a true
  conflict for the chosen strategy (``manual_review`` parks it); a value held by one record
  only fills the other;
- an explicit value (``conflict_resolution``) is what BOTH sides end up with, whatever the
  strategy;
- a field NOT named is left as it is on both sides and held apart: the base records each
  side's own value (see :mod:`leadsync.merge.engine`), so the next sync sees neither a change
  nor a conflict, and the first later change on either side is taken as usual.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.mapping.lead import SYNC_FIELDS
from leadsync.merge.engine import APART_KEY, MergeResult, merge
from leadsync.merge.rules import FieldRule, MergeRules, Strategy
from leadsync.merge.values import is_blank, normalize_value


@dataclass(frozen=True, slots=True)
class RecordMerge:
    result: MergeResult
    #: What the conversation must change to (compared with its real values).
    to_domiq: dict[str, Any]
    #: Named fields both records held, with different values, that are now decided: each
    #: counts once, whether the strategy or an explicit value decided it.
    conflicts_resolved: int
    #: Named fields and the value both sides now hold.
    final_values: dict[str, Any]
    #: Named fields parked for a person (manual_review).
    fields_conflicted: list[str]


def merge_records(
    *,
    domiq: Mapping[str, Any],
    resman: Mapping[str, Any],
    chosen: Collection[str],
    explicit: Mapping[str, Any],
    strategy: Strategy,
) -> RecordMerge:
    """``domiq``/``resman`` are snapshots; ``explicit`` holds canonical values of fields in
    ``chosen``."""
    apart = [name for name in SYNC_FIELDS if name not in chosen]
    base: dict[str, Any] = {name: domiq.get(name) for name in apart}
    base[APART_KEY] = {name: resman.get(name) for name in apart}
    rules = MergeRules(
        strategy=strategy,
        field_rules=dict.fromkeys(explicit, FieldRule.ALWAYS_DOMIQ),
        # The person merging chose a strategy for these two records; it covers status too.
        status_by_priority=False,
    )
    result = merge(base=base, domiq={**domiq, **explicit}, resman=resman, rules=rules)
    mine = {name: normalize_value(name, domiq.get(name)) for name in SYNC_FIELDS}
    settled = [o for o in result.outcomes if o.field in chosen and o.settled]
    decided = [
        o.field
        for o in settled
        if mine[o.field] != o.resman and not is_blank(mine[o.field]) and not is_blank(o.resman)
    ]
    return RecordMerge(
        result=result,
        to_domiq={o.field: o.merged for o in result.outcomes if o.merged != mine[o.field]},
        conflicts_resolved=len(decided),
        final_values={o.field: o.merged for o in settled},
        fields_conflicted=[o.field for o in result.conflicts],
    )
