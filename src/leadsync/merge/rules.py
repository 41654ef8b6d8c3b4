"""How an integration resolves conflicts: data stored on the integration, not code.

The integration row carries ``conflict_strategy`` (one of :class:`Strategy`) and a
``sync_settings`` JSON object; the merge reads two keys of that object::

    {"field_rules": {"phone": "always_resman", "pets": "dont_sync"},
     "status_by_priority": true}

Other keys of ``sync_settings`` belong to other parts of the service and are ignored here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from leadsync.mapping.lead import SYNC_FIELDS

STATUS_FIELD = "status"

_E = TypeVar("_E", bound=StrEnum)


class Strategy(StrEnum):
    """What decides a true conflict (both sides changed a field to different values)."""

    RESMAN_WINS = "resman_wins"
    DOMIQ_WINS = "domiq_wins"
    #: Park the conflict with base and both values for a person; other fields keep syncing.
    MANUAL_REVIEW = "manual_review"


class FieldRule(StrEnum):
    """Per-field override of the integration's strategy."""

    #: Plain three-way merge; true conflicts go to the strategy.
    TWO_WAY = "two_way"
    #: On a true conflict ResMan wins, unless its value is blank (then DomIQ's is kept).
    PREFER_RESMAN_UNLESS_BLANK = "prefer_resman_unless_blank"
    PREFER_DOMIQ_UNLESS_BLANK = "prefer_domiq_unless_blank"
    #: ResMan's value wins whenever the sides differ, even when only DomIQ changed it.
    ALWAYS_RESMAN = "always_resman"
    ALWAYS_DOMIQ = "always_domiq"
    #: Nothing moves in either direction and the base is left as it was.
    DONT_SYNC = "dont_sync"


@dataclass(frozen=True, slots=True)
class MergeRules:
    strategy: Strategy = Strategy.MANUAL_REVIEW
    #: Fields without an entry use :attr:`FieldRule.TWO_WAY`.
    field_rules: Mapping[str, FieldRule] = field(default_factory=dict)
    #: Status conflicts go to STATUS_PRIORITY (lower number wins) instead of the strategy,
    #: unless ``field_rules`` has an entry for ``status`` (an explicit rule is more specific).
    status_by_priority: bool = True

    def __post_init__(self) -> None:
        rules: dict[str, FieldRule] = {}
        for name, rule in self.field_rules.items():
            if name not in SYNC_FIELDS:
                raise ValueError(f"unknown sync field {name!r} in field_rules")
            rules[name] = _parse(FieldRule, rule, what=f"field rule for {name!r}")
        # A read-only copy: the rules are shared by every merge of the integration.
        object.__setattr__(self, "field_rules", MappingProxyType(rules))
        object.__setattr__(self, "strategy", _parse(Strategy, self.strategy, what="strategy"))

    def rule_for(self, field_name: str) -> FieldRule:
        return self.field_rules.get(field_name, FieldRule.TWO_WAY)

    def uses_status_priority(self, field_name: str) -> bool:
        return (
            field_name == STATUS_FIELD
            and self.status_by_priority
            and field_name not in self.field_rules
        )

    @classmethod
    def from_settings(cls, strategy: str, settings: Mapping[str, Any] | None) -> MergeRules:
        """Rules from the integration's ``conflict_strategy`` column and ``sync_settings``.

        Raises ValueError naming the bad strategy, field or field rule.
        """
        settings = settings or {}
        raw_rules = settings.get("field_rules") or {}
        if not isinstance(raw_rules, Mapping):
            raise ValueError("sync_settings.field_rules must be an object of field -> rule")
        by_priority = settings.get("status_by_priority", True)
        if not isinstance(by_priority, bool):
            raise ValueError("sync_settings.status_by_priority must be true or false")
        return cls(
            strategy=_parse(Strategy, strategy, what="conflict_strategy"),
            field_rules={str(k): v for k, v in raw_rules.items()},
            status_by_priority=by_priority,
        )

    def to_settings(self) -> dict[str, Any]:
        """The ``sync_settings`` keys that reproduce these rules (inverse of from_settings)."""
        return {
            "field_rules": {name: rule.value for name, rule in self.field_rules.items()},
            "status_by_priority": self.status_by_priority,
        }


def _parse(kind: type[_E], value: object, *, what: str) -> _E:
    try:
        if isinstance(value, str):
            return kind(value)
    except ValueError:
        pass
    allowed = ", ".join(member.value for member in kind)
    raise ValueError(f"invalid {what} {value!r}; expected one of: {allowed}")
