"""Alert rules as data: load the TOML rules file, and export it as Prometheus rules."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from leadsync.observability.signals import SIGNALS

ROUTES = ("email", "slack", "pagerduty")
_DURATION = re.compile(r"^(\d+)(s|m|h)$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class RulesError(ValueError):
    """The rules file is unusable; the message names the rule and field."""


def parse_duration(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h")
    return float(int(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    signal: str
    threshold: float
    window: str
    route: str
    hold_down: str
    summary: str
    #: Rate signals only: below this many events in the window the rule stays quiet.
    min_events: int = 0

    @property
    def window_seconds(self) -> float:
        return parse_duration(self.window)

    @property
    def hold_down_seconds(self) -> float:
        return parse_duration(self.hold_down)


def _min_events(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise RulesError(f"{where}.min_events: {raw!r} is not a whole number >= 0")
    return raw


def _rule(raw: dict[str, Any], index: int) -> Rule:
    where = f"rules[{index}]"
    try:
        rule = Rule(
            name=str(raw["name"]),
            signal=str(raw["signal"]),
            threshold=float(raw["threshold"]),
            window=str(raw["window"]),
            route=str(raw["route"]),
            hold_down=str(raw.get("hold_down", raw["window"])),
            summary=str(raw.get("summary", raw["name"])),
            min_events=_min_events(raw.get("min_events", 0), where),
        )
    except KeyError as exc:
        raise RulesError(f"{where}: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise RulesError(f"{where}.threshold: {exc}") from exc
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule.name):
        raise RulesError(f"{where}.name: {rule.name!r} must be a Prometheus alert name")
    if rule.signal not in SIGNALS:
        raise RulesError(f"{where}.signal: {rule.signal!r} is not one of {sorted(SIGNALS)}")
    if rule.min_events and SIGNALS[rule.signal].volume is None:
        raise RulesError(f"{where}.min_events: only a rate signal has events to count")
    if rule.route not in ROUTES:
        raise RulesError(f"{where}.route: {rule.route!r} is not one of {list(ROUTES)}")
    for field in ("window", "hold_down"):
        try:
            parse_duration(getattr(rule, field))
        except ValueError as exc:
            raise RulesError(f"{where}.{field}: {exc}") from exc
    return rule


def default_rules_text() -> str:
    return resources.files("leadsync.observability").joinpath("alert_rules.toml").read_text()


def load_rules(path: Path | None = None) -> list[Rule]:
    """The rules of ``path``, or the embedded defaults (the spec's five)."""
    text = path.read_text() if path is not None else default_rules_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"not valid TOML: {exc}") from exc
    rules = [_rule(raw, n) for n, raw in enumerate(data.get("rules", []))]
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise RulesError("rules: two rules share a name")
    return rules


def export_prometheus(rules: list[Rule]) -> str:
    """A Prometheus rules file (YAML; JSON-quoted scalars are valid YAML) equivalent to the
    in-process evaluation, for teams running Prometheus + Alertmanager."""
    lines = ["groups:", "  - name: leadsync", "    rules:"]
    for rule in rules:
        signal = SIGNALS[rule.signal]
        expr = signal.promql.format(window=rule.window) + f" > {rule.threshold:g}"
        if rule.min_events and signal.volume_promql:
            volume = signal.volume_promql.format(window=rule.window)
            expr = f"({expr}) and {volume} >= {rule.min_events}"
        lines += [
            f"      - alert: {rule.name}",
            f"        expr: {json.dumps(expr)}",
            f"        for: {rule.window if signal.sustained else '0s'}",
            f"        keep_firing_for: {rule.hold_down}",
            "        labels:",
            f"          route: {rule.route}",
            "          service: leadsync",
            "        annotations:",
            f"          summary: {json.dumps(rule.summary)}",
        ]
    return "\n".join(lines) + "\n"
