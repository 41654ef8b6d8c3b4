"""Three-way merge of a linked lead (pure: no I/O, no clock, no database).

See :mod:`leadsync.merge.engine` for the semantics and :mod:`leadsync.merge.rules` for how an
integration configures them.
"""

from leadsync.merge.engine import FieldOutcome, Kind, MergeResult, merge, merge_field
from leadsync.merge.rules import FieldRule, MergeRules, Strategy
from leadsync.merge.values import is_blank, normalize_snapshot, normalize_value

__all__ = [
    "FieldOutcome",
    "FieldRule",
    "Kind",
    "MergeResult",
    "MergeRules",
    "Strategy",
    "is_blank",
    "merge",
    "merge_field",
    "normalize_snapshot",
    "normalize_value",
]
