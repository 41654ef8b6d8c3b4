"""The alert rules driven over and under their thresholds by real traffic against the
sandbox (fault injection, a staff walk-in, a paused queue), delivered to real local
receivers: SMTP (aiosmtpd), a Slack webhook and PagerDuty Events v2 (HTTP on loopback).

Time is the evaluator's: ticks carry explicit instants, so windows and hold-downs are
exercised without waiting; the metrics and database figures sampled at each tick are real.
Some thresholds come from a test rules file (rules are data): a 30 s latency or a 60 s lag
would make the suite wait that long.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from leadsync.db.session import read_session
from leadsync.observability.alert_rules import load_rules
from leadsync.observability.alerting import AlertEvaluator, database_sampler
from leadsync.observability.notifiers import EmailNotifier, PagerDutyNotifier, SlackNotifier
from leadsync.observability.state import read_state
from leadsync.sync.queue.flags import set_push_paused
from receivers import HttpReceiver, Mailbox, http_receiver, smtp_server
from stack import Stack, lead_body, wait_until

T0 = 1_000_000.0

FAST_RULES = """
[[rules]]
name = "LeadSyncLatency"
signal = "sync_latency_p99"
threshold = 0.3
window = "1m"
route = "slack"
hold_down = "2m"

[[rules]]
name = "ResManApiErrors"
signal = "api_errors"
threshold = 3
window = "1m"
route = "pagerduty"
hold_down = "2m"

[[rules]]
name = "BidirectionalSyncLag"
signal = "sync_lag"
threshold = 1
window = "5m"
route = "email"
hold_down = "5m"
"""


@dataclass
class Receivers:
    mail: Mailbox
    http: HttpReceiver
    smtp_port: int

    def evaluator(self, stack: Stack, rules_file: Path | None = None) -> AlertEvaluator:
        # The default rules with every rate judged from its first event: these tests make a
        # handful of real syncs, not the 20 a default rate waits for (min_events has its own
        # test in tests/observability/test_alert_rules.py).
        rules = [dataclasses.replace(r, min_events=0) for r in load_rules(rules_file)]
        return AlertEvaluator(
            rules=rules,
            notifiers={
                "email": EmailNotifier(
                    host="127.0.0.1",
                    port=self.smtp_port,
                    sender="leadsync@example.org",
                    recipients=["oncall@example.org"],
                ),
                "slack": SlackNotifier(f"{self.http.base_url}/slack"),
                "pagerduty": PagerDutyNotifier(
                    "routing-key", url=f"{self.http.base_url}/pagerduty"
                ),
            },
            sampler=database_sampler(stack.runtime.sessionmaker),
            retry_backoff=0.05,
        )


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    async with smtp_server() as (mail, port), http_receiver() as http:
        yield Receivers(mail, http, port)


@pytest.fixture
def fast_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(FAST_RULES)
    return path


async def _post_leads(stack: Stack, count: int) -> None:
    for n in range(count):
        response = await stack.api.post(
            "/api/resman/leads",
            json=lead_body(stack.a.property_id, n=n),
            headers=stack.auth(stack.a),
        )
        assert response.status_code == 201


def _count(name: str, **labels: str) -> float:
    """This process's total of a metric (the stack runs in-process)."""
    wanted = set(labels.items())
    return sum(
        s.value
        for family in REGISTRY.collect()
        for s in family.samples
        if s.name == name and wanted <= set(s.labels.items())
    )


async def _settled(outcome: str, *, more_than: float) -> None:
    async def done() -> bool:
        return _count("leadsync_sync_outcomes_total", outcome=outcome) > more_than

    await wait_until(done)


async def test_failure_rate_emails_once_and_resolves_after_the_hold_down(
    stack: Stack, receivers: Receivers
) -> None:
    evaluator = receivers.evaluator(stack)
    assert await evaluator.tick(now=T0) == []
    failed = _count("leadsync_sync_outcomes_total", outcome="failed")
    await stack.set_faults(http_error_rate=1.0, http_error_codes=[503])
    await _post_leads(stack, 3)
    await _settled("failed", more_than=failed)
    fired = await evaluator.tick(now=T0 + 30)
    assert "LeadSyncFailureRate" in {e.rule for e in fired}
    assert all(e.status == "firing" for e in fired)
    assert await evaluator.tick(now=T0 + 60) == [], "a firing rule notifies once"
    await evaluator.drain()
    assert receivers.mail.subjects().count("[leadsync] FIRING: LeadSyncFailureRate") == 1

    await stack.set_faults(http_error_rate=0.0)
    # Nothing failed in the next window: the rule is clear but holds for 5 minutes.
    later = [e for e in await evaluator.tick(now=T0 + 400) if e.rule == "LeadSyncFailureRate"]
    assert later == []
    assert "LeadSyncFailureRate" in evaluator.firing()
    resolved = await evaluator.tick(now=T0 + 700)
    assert [e.status for e in resolved if e.rule == "LeadSyncFailureRate"] == ["resolved"]
    await evaluator.drain()
    assert "[leadsync] RESOLVED: LeadSyncFailureRate" in receivers.mail.subjects()
    assert receivers.mail.messages[0]["To"] == "oncall@example.org"


async def test_api_errors_page_and_resolve_with_the_same_dedup_key(
    stack: Stack, receivers: Receivers, fast_rules: Path
) -> None:
    evaluator = receivers.evaluator(stack, fast_rules)
    await evaluator.tick(now=T0)
    await stack.set_faults(http_error_rate=1.0, http_error_codes=[503])
    await _post_leads(stack, 5)

    async def four_errors() -> bool:
        stats = (await stack.sandbox.get("/admin/stats")).json()
        return bool(sum(stats["faults_injected"].values()) >= 4)

    await wait_until(four_errors)
    assert [e.rule for e in await evaluator.tick(now=T0 + 20)] == ["ResManApiErrors"]
    await stack.set_faults(http_error_rate=0.0)
    assert await evaluator.tick(now=T0 + 100) == []  # clear, within the hold-down
    assert [e.status for e in await evaluator.tick(now=T0 + 230)] == ["resolved"]
    await evaluator.drain()
    trigger, resolve = receivers.http.pagerduty
    assert trigger["event_action"] == "trigger"
    assert trigger["routing_key"] == "routing-key"
    assert trigger["payload"]["severity"] == "critical"
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"] == "leadsync-ResManApiErrors"


async def test_slow_resman_posts_a_latency_alert_to_slack(
    stack: Stack, receivers: Receivers, fast_rules: Path
) -> None:
    evaluator = receivers.evaluator(stack, fast_rules)
    await evaluator.tick(now=T0)
    await stack.set_faults(latency_ms=400)
    seen = _count("leadsync_sync_latency_seconds_count")
    await _post_leads(stack, 1)

    async def observed() -> bool:
        return _count("leadsync_sync_latency_seconds_count") > seen

    await wait_until(observed)
    assert [e.rule for e in await evaluator.tick(now=T0 + 10)] == ["LeadSyncLatency"]
    await stack.set_faults(latency_ms=0)
    assert await evaluator.tick(now=T0 + 100) == []
    assert [e.status for e in await evaluator.tick(now=T0 + 230)] == ["resolved"]
    await evaluator.drain()
    texts = [m["text"] for m in receivers.http.slack]
    assert len(texts) == 2
    assert texts[0].startswith("[leadsync] FIRING: LeadSyncLatency")
    assert texts[1].startswith("[leadsync] RESOLVED: LeadSyncLatency")


async def test_a_duplicate_walk_in_counts_as_a_conflict_and_alerts_slack(
    stack: Stack, receivers: Receivers
) -> None:
    evaluator = receivers.evaluator(stack)
    await evaluator.tick(now=T0)
    walk_in = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects",
        json={"first_name": "Maria", "last_name": "Gomez", "email": "Maria.Gomez@gmail.com"},
    )
    walk_in.raise_for_status()
    succeeded = _count("leadsync_sync_outcomes_total", outcome="success")
    response = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.a.property_id), headers=stack.auth(stack.a)
    )
    assert response.status_code == 201
    await _settled("success", more_than=succeeded)
    assert len(await stack.resman_prospects(stack.a)) == 1, "linked, not duplicated"
    fired = await evaluator.tick(now=T0 + 30)
    assert [e.rule for e in fired] == ["LeadSyncConflictRate"]
    assert fired[0].value == pytest.approx(0.5)  # one linked duplicate, one successful push
    await evaluator.drain()
    assert receivers.http.slack[0]["text"].startswith("[leadsync] FIRING: LeadSyncConflictRate")


async def test_a_paused_queue_raises_the_lag_alert_only_once_sustained(
    stack: Stack, receivers: Receivers, fast_rules: Path
) -> None:
    evaluator = receivers.evaluator(stack, fast_rules)
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=True, changed_by="test")
    await _post_leads(stack, 1)

    async def lagging() -> bool:
        async with read_session(stack.runtime.sessionmaker) as session:
            return (await read_state(session)).lag_seconds["to_resman"] > 1

    await wait_until(lagging)
    assert await evaluator.tick(now=T0) == []
    assert await evaluator.tick(now=T0 + 120) == [], "not yet sustained for 5 minutes"
    assert [e.rule for e in await evaluator.tick(now=T0 + 301)] == ["BidirectionalSyncLag"]
    async with stack.runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=False, changed_by="test")
    stack.runtime.worker.wake()

    async def caught_up() -> bool:
        async with read_session(stack.runtime.sessionmaker) as session:
            return (await read_state(session)).lag_seconds["to_resman"] == 0

    await wait_until(caught_up)
    assert await evaluator.tick(now=T0 + 400) == []
    assert [e.status for e in await evaluator.tick(now=T0 + 701)] == ["resolved"]
    await evaluator.drain()
    assert receivers.mail.subjects() == [
        "[leadsync] FIRING: BidirectionalSyncLag",
        "[leadsync] RESOLVED: BidirectionalSyncLag",
    ]
