"""``leadsync doctor``: the spec's deployment checklist, automated.

Every item is pass/fail with a one-line fix. Pre-deployment items run per integration
(credentials through a real ResMan call, the "Chatbot" TransactionSource, the webhook's
signing secret or change feed, conflict rules, the mapping both ways on a sample prospect,
with ``--round-trip`` a round trip on a test prospect) and once per deployment (monitoring,
the rollback flag); ``--post`` adds the post-deployment figures of the last 24 hours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import ResmanIntegration
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.merge import MergeRules
from leadsync.observability.alert_rules import RulesError, load_rules
from leadsync.observability.doctor_mapping import ITEM as MAPPING_ITEM
from leadsync.observability.doctor_mapping import mapping_check
from leadsync.observability.doctor_round_trip import ITEM as ROUND_TRIP_ITEM
from leadsync.observability.doctor_round_trip import round_trip as run_round_trip
from leadsync.observability.notifiers import AlertEvent, deliver, notifiers_from_settings
from leadsync.observability.report import build_report
from leadsync.resman.errors import AuthenticationError, ResManError
from leadsync.security.crypto import open_json
from leadsync.security.webhook_secrets import read_secrets
from leadsync.sync.queue.flags import push_paused, reset_cache, set_push_paused

if TYPE_CHECKING:
    # The runtime wires every layer together; those that only use it import it for types
    # alone, so no import runs back up to it (see pyproject's import contracts).
    from leadsync.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Check:
    item: str
    passed: bool
    detail: str
    fix: str | None = None
    integration: str | None = None


async def _credentials(runtime: Runtime, integration: ResmanIntegration) -> list[Check]:
    ref = str(integration.id)
    try:
        async with read_session(runtime.sessionmaker) as session:
            runtime.targets.invalidate(integration.id)  # a real call, not a cached answer
            target = await runtime.targets.get(session, integration_id=integration.id)
    except AuthenticationError as exc:
        fix = f"leadsync integration update {ref} --api-key ... --partner-id ..."
        return [Check("credentials valid", False, str(exc), fix, ref)]
    except ResManError as exc:
        fix = "check the base URL and that ResMan answers (leadsync integration show)"
        return [Check("credentials valid", False, f"ResMan call failed: {exc}", fix, ref)]
    checks = [Check("credentials valid", True, "GetProspectSources answered", None, ref)]
    if integration.sync_direction == "from_resman":
        checks.append(Check("TransactionSource", True, "pull-only: not needed", None, ref))
    elif target.transaction_source is None:
        fix = 'add a ProspectSource named "Chatbot" in ResMan, or set transaction_source_id'
        checks.append(Check("TransactionSource", False, "no Chatbot source", fix, ref))
    else:
        detail = f"source id {target.transaction_source}"
        checks.append(Check("TransactionSource", True, detail, None, ref))
    return checks


def _inbound(runtime: Runtime, integration: ResmanIntegration) -> list[Check]:
    ref = str(integration.id)
    now = utcnow()
    plain = open_json(integration.api_credentials, keys=runtime.keys)
    secrets = [s for s in read_secrets(plain) if s.active(now)]
    settings = integration.sync_settings or {}
    if integration.sync_direction == "to_resman":
        return [Check("webhook signing secret", True, "push-only: not needed", None, ref)]
    if secrets:
        url = f"/api/resman/webhooks/lead-update?integration={ref}"
        return [Check("webhook signing secret", True, f"set; ResMan must call {url}", None, ref)]
    if settings.get("feed") is True:
        return [Check("webhook signing secret", True, "change feed followed instead", None, ref)]
    fix = f"leadsync integration update {ref} --webhook-secret whsec_... (and register it)"
    detail = "no secret: office changes arrive only by polling"
    return [Check("webhook signing secret", False, detail, fix, ref)]


def _conflict_rules(integration: ResmanIntegration) -> Check:
    ref = str(integration.id)
    try:
        MergeRules.from_settings(integration.conflict_strategy, integration.sync_settings or {})
    except (ValueError, TypeError, KeyError) as exc:
        fix = f"leadsync integration update {ref} (fix sync_settings' field rules)"
        return Check("conflict rules defined", False, str(exc), fix, ref)
    detail = f"default {integration.conflict_strategy}"
    return Check("conflict rules defined", True, detail, None, ref)


async def _monitoring(runtime: Runtime, *, send_test: bool) -> list[Check]:
    settings = runtime.settings
    try:
        rules = load_rules(settings.alert_rules_file)
    except RulesError as exc:
        return [Check("alert rules", False, str(exc), "fix LEADSYNC_ALERT_RULES_FILE")]
    notifiers = notifiers_from_settings(settings)
    missing = sorted({r.route for r in rules} - set(notifiers))
    checks = [
        Check(
            "monitoring configured",
            not missing,
            f"{len(rules)} rules; routes without settings: {', '.join(missing) or 'none'}",
            "set LEADSYNC_SMTP_HOST + LEADSYNC_ALERT_EMAIL_TO, LEADSYNC_SLACK_WEBHOOK_URL, "
            "LEADSYNC_PAGERDUTY_ROUTING_KEY"
            if missing
            else None,
        ),
        Check(
            "metrics protected",
            True,
            "scrape token set" if settings.metrics_token else "loopback scrapers only",
        ),
    ]
    if send_test:
        for route, notifier in sorted(notifiers.items()):
            event = AlertEvent("LeadsyncDoctor", "firing", "test", None, 0, "leadsync-doctor")
            sent = await deliver(notifier, event, attempts=2, backoff=1.0)
            fix = None if sent else f"check the {route} settings (the log has the error)"
            outcome = "delivered" if sent else "failed"
            checks.append(Check(f"notifier {route} test-sent", sent, outcome, fix))
    return checks


async def _rollback_flag(runtime: Runtime) -> Check:
    """Pause and resume (restoring whatever state it was in): the kill switch works."""
    async with runtime.sessionmaker() as session, session.begin():
        before = await push_paused(session)
        await set_push_paused(session, paused=not before, changed_by="doctor")
    reset_cache()
    async with read_session(runtime.sessionmaker) as session:
        flipped = await push_paused(session)
    async with runtime.sessionmaker() as session, session.begin():
        await set_push_paused(session, paused=before, changed_by="doctor")
    reset_cache()
    async with read_session(runtime.sessionmaker) as session:
        restored = await push_paused(session)
    ok = flipped != before and restored == before
    detail = f"paused={before}, flipped and restored" if ok else "the flag did not change"
    return Check("rollback flag (pause/resume)", ok, detail, None if ok else "leadsync sync status")


#: The deployment item that checks the database's own upkeep.
UPKEEP_ITEM = "database upkeep (autovacuum)"


async def _upkeep(runtime: Runtime) -> Check:
    """PostgreSQL must vacuum and analyze as the queue churns: every job is updated several
    times, and with autovacuum off the dead rows and missing statistics slowed one claim to
    15 s at 6,600 queued jobs in a chaos run (so jobs piled up faster still). SQLite (WAL)
    needs nothing scheduled."""
    async with read_session(runtime.sessionmaker) as session:
        if session.get_bind().dialect.name != "postgresql":
            return Check(UPKEEP_ITEM, True, "SQLite: nothing to schedule")
        setting = await session.scalar(text("SHOW autovacuum"))
    if setting == "on":
        return Check(UPKEEP_ITEM, True, "autovacuum on")
    detail = "autovacuum is off: the queue's dead rows pile up and its claims slow down"
    fix = "set autovacuum = on (PostgreSQL's default) and reload, or VACUUM ANALYZE on a timer"
    return Check(UPKEEP_ITEM, False, detail, fix)


async def _post(session: AsyncSession, ids: list[Any]) -> list[Check]:
    report = await build_report(session, since=timedelta(hours=24), integration_ids=ids)
    wanted = {
        "sync success rate to_resman": "recent success rate to_resman",
        "sync success rate from_resman": "recent success rate from_resman",
        "data loss": "consistency (data loss)",
        "conflict rate": "conflict rate",
        "real-time lag": "real-time lag",
    }
    checks = []
    for c in report["criteria"]:
        if c["name"] in wanted:
            shown = "no traffic" if c["value"] is None else f"{c['value']:.4g} {c['unit']}"
            ok = c["passed"] is not False
            fix = None if ok else "see leadsync report, leadsync queue list --state dead"
            checks.append(Check(wanted[c["name"]], ok, f"{shown} (target {c['target']})", fix))
    return checks


async def _mapping(runtime: Runtime, integration: ResmanIntegration) -> Check:
    ref = str(integration.id)
    passed, detail = await mapping_check(runtime, integration)
    fix = None if passed else "fix the credentials first, or report the fields (leadsync.mapping)"
    return Check(MAPPING_ITEM, passed, detail, fix, ref)


async def _round_trip(runtime: Runtime, integration: ResmanIntegration) -> Check:
    ref = str(integration.id)
    async with read_session(runtime.sessionmaker) as session:
        paused = await push_paused(session)
    if paused:
        passed, detail = False, "pushes are paused (leadsync sync resume)"
    else:
        passed, detail = await run_round_trip(runtime, integration)
    fix = None if passed else f"see leadsync queue list and leadsync integration show {ref}"
    return Check(ROUND_TRIP_ITEM, passed, detail, fix, ref)


async def run_doctor(
    runtime: Runtime,
    *,
    integration_id: Any = None,
    send_test: bool = False,
    post: bool = False,
    integration_only: bool = False,
    round_trip: bool = False,
) -> list[Check]:
    """Every check; with ``integration_only``, only those of the integration(s), leaving out
    the process-wide monitoring and rollback-flag checks (a property-scoped viewer must not
    flip the global kill switch, even to prove it works)."""
    async with read_session(runtime.sessionmaker) as session:
        query = select(ResmanIntegration).order_by(ResmanIntegration.created_at)
        if integration_id is not None:
            query = query.where(ResmanIntegration.id == integration_id)
        integrations = list(await session.scalars(query))
    checks: list[Check] = []
    for integration in integrations:
        checks += await _credentials(runtime, integration)
        checks += _inbound(runtime, integration)
        checks.append(_conflict_rules(integration))
        checks.append(await _mapping(runtime, integration))
        if round_trip:
            checks.append(await _round_trip(runtime, integration))
    if integration_only:
        return checks
    checks += await _monitoring(runtime, send_test=send_test)
    checks.append(await _rollback_flag(runtime))
    checks.append(await _upkeep(runtime))
    if post:
        async with read_session(runtime.sessionmaker) as session:
            checks += await _post(session, [i.id for i in integrations])
    return checks


def doctor_lines(checks: list[Check]) -> list[str]:
    lines = []
    for c in checks:
        where = f"[{c.integration[:8]}] " if c.integration else ""
        lines.append(f"{'PASS' if c.passed else 'FAIL'}  {where}{c.item}: {c.detail}")
        if c.fix:
            lines.append(f"      fix: {c.fix}")
    return lines


def as_dicts(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]
