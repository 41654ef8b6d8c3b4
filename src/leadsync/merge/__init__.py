"""Three-way merge of a linked lead (pure: no I/O, no clock, no database).

See :mod:`leadsync.merge.engine` for the semantics and :mod:`leadsync.merge.rules` for how an
integration configures them.
"""

from leadsync.merge.engine import (
    APART_KEY,
    FieldOutcome,
    Kind,
    MergeResult,
    agreed,
    merge,
    merge_field,
)
from leadsync.merge.linking import RecordMerge, merge_records
from leadsync.merge.rules import FieldRule, MergeRules, Strategy
from leadsync.merge.values import is_blank, normalize_snapshot, normalize_value

__all__ = [
    "APART_KEY",
    "FieldOutcome",
    "FieldRule",
    "Kind",
    "MergeResult",
    "MergeRules",
    "RecordMerge",
    "Strategy",
    "agreed",
    "is_blank",
    "merge",
    "merge_field",
    "merge_records",
    "normalize_snapshot",
    "normalize_value",
]
