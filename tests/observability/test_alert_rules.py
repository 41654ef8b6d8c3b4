"""The rules file (defaults, validation, Prometheus export checked by promtool), the
evaluator's fire-once / hold-down state machine, and notifier retries against a real
receiver."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.observability.alert_rules import RulesError, export_prometheus, load_rules
from leadsync.observability.alerting import AlertEvaluator
from leadsync.observability.notifiers import AlertEvent, SlackNotifier, deliver
from leadsync.observability.signals import Snapshot, quantile
from receivers import free_port, http_receiver

OUTCOMES = "leadsync_sync_outcomes_total"


def test_the_defaults_are_the_specs_five_rules() -> None:
    rules = {r.signal: (r.threshold, r.window, r.route) for r in load_rules()}
    assert rules == {
        "failure_rate": (0.05, "5m", "email"),
        "sync_latency_p99": (30.0, "1m", "slack"),
        "api_errors": (10.0, "1m", "pagerduty"),
        "conflict_rate": (0.10, "10m", "slack"),
        "sync_lag": (60.0, "5m", "email"),
    }
    # The two rates are judged only on enough events (a demo's first minute is not a rate).
    assert {r.signal: r.min_events for r in load_rules() if r.min_events} == {
        "failure_rate": 20,
        "conflict_rate": 20,
    }


def _rule(**fields: object) -> str:
    base: dict[str, object] = {
        "name": "A", "signal": "api_errors", "threshold": 1, "window": "1m", "route": "email"
    }  # fmt: skip
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in {**base, **fields}.items() if v]
    return "[[rules]]\n" + "\n".join(lines)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_rule(signal="nope"), "rules[0].signal"),
        (_rule(route="fax"), "rules[0].route"),
        (_rule(window="soon"), "rules[0].window"),
        (_rule(name="has space"), "rules[0].name"),
        (_rule(threshold=None), "'threshold'"),
        (_rule(min_events=5), "rules[0].min_events"),  # api_errors is a count, not a rate
        (_rule(signal="conflict_rate", min_events=-1), "rules[0].min_events"),
        (_rule(signal="conflict_rate", min_events="many"), "rules[0].min_events"),
        ("[[rules]\n", "not valid TOML"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_field(
    tmp_path: Path, body: str, named: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(body)
    with pytest.raises(RulesError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_rules(path)


def test_the_export_is_a_valid_prometheus_rules_file(tmp_path: Path) -> None:
    out = tmp_path / "leadsync.rules.yml"
    result = CliRunner().invoke(app, ["alerts", "export", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text == export_prometheus(load_rules())
    assert "max(leadsync_sync_lag_seconds) > 60" in text
    assert "for: 5m" in text  # the lag must be sustained for its window
    # The rates' minimum number of events, as PromQL's `and` on the denominator.
    assert (
        ') and sum(increase(leadsync_sync_outcomes_total{outcome=~\\"success|failed\\"}[5m])) >= 20'
        in text
    )
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package 'prometheus'); export not checked")
    checked = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout


def test_export_refuses_a_bad_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nname = "A"\n')
    result = CliRunner().invoke(app, ["alerts", "export", "--rules", str(path)])
    assert result.exit_code == 2
    assert "missing field 'signal'" in result.output


def test_quantile_interpolates_like_histogram_quantile() -> None:
    buckets = [(1.0, 0.0), (10.0, 50.0), (30.0, 100.0), (float("inf"), 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(10.0)
    assert quantile(0.99, buckets) == pytest.approx(10 + 20 * 49 / 50)
    assert quantile(0.99, [(1.0, 0.0), (float("inf"), 0.0)]) is None


class Script:
    """A sampler replaying cumulative outcome counts: (succeeded, failed) per tick."""

    def __init__(self, counts: Sequence[tuple[int, int]]) -> None:
        self.counts = list(counts)

    async def __call__(self, at: float) -> Snapshot:
        ok, failed = self.counts.pop(0)
        return Snapshot(
            at,
            {
                (OUTCOMES, frozenset({("outcome", "success")})): float(ok),
                (OUTCOMES, frozenset({("outcome", "failed")})): float(failed),
            },
        )


async def test_a_rule_fires_once_holds_through_flapping_and_resolves_once() -> None:
    # 5 m window, 5 m hold-down; ticks one minute apart.
    counts = [(0, 0), (10, 5), (20, 5), (30, 5), (40, 5), (50, 5), (60, 5), (70, 5),
              (70, 9), (80, 9), (90, 9), (100, 9), (110, 9), (120, 9), (130, 9), (140, 9),
              (150, 9), (160, 9), (170, 9), (180, 9), (190, 9)]  # fmt: skip
    counts = [(2 * ok, 2 * failed) for ok, failed in counts]  # above min_events from minute 1
    rules = [r for r in load_rules() if r.signal == "failure_rate"]
    evaluator = AlertEvaluator(rules=rules, notifiers={}, sampler=Script(counts))
    statuses = []
    for minute in range(len(counts)):
        statuses += [(minute, e.status) for e in await evaluator.tick(now=60.0 * minute)]
    # Fires at minute 1; the window clears at minute 6 but breaches again at minute 8
    # (within the hold-down: no new notification); clear from minute 13, resolved 5 m later.
    assert statuses == [(1, "firing"), (18, "resolved")]


async def test_a_rate_on_too_few_events_stays_quiet() -> None:
    """1 failure in 3 attempts is 33 %, but no rate: the default failure rule (min_events
    20) waits for enough attempts in its window, then fires on the same share."""
    counts = [(0, 0), (2, 1), (4, 2), (8, 4), (14, 7)]
    rules = [r for r in load_rules() if r.signal == "failure_rate"]
    evaluator = AlertEvaluator(rules=rules, notifiers={}, sampler=Script(counts))
    statuses = []
    for minute in range(len(counts)):
        statuses += [(minute, e.status) for e in await evaluator.tick(now=60.0 * minute)]
    # 3, 6 and 12 attempts in the window: quiet; 21 at minute 4: firing.
    assert statuses == [(4, "firing")]


async def test_a_failing_receiver_is_retried_then_succeeds() -> None:
    async with http_receiver() as http:
        http.fail_next = 2
        event = AlertEvent("R", "firing", "s", 1.0, 0.5, "leadsync-R")
        assert await deliver(SlackNotifier(f"{http.base_url}/slack"), event, backoff=0.01)
        assert http.refused == 2
        assert [m["text"] for m in http.slack] == [event.text]


async def test_an_unreachable_receiver_is_given_up_without_raising() -> None:
    notifier = SlackNotifier(f"http://127.0.0.1:{free_port()}/slack", timeout=2)
    event = AlertEvent("R", "firing", "s", 1.0, 0.5, "leadsync-R")
    assert await deliver(notifier, event, attempts=3, backoff=0.01) is False
