"""The observability commands: `leadsync alerts ...`, `report`, `doctor` and `reconcile`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.cli.support import JsonOption, emit, fail, parse_uuid, run
from leadsync.config import get_settings
from leadsync.errors import LeadsyncError

if TYPE_CHECKING:
    from leadsync.observability.doctor import Check
    from leadsync.runtime import Runtime

T = TypeVar("T")

alerts_app = typer.Typer(help="Alert rules: export them for Prometheus, test the notifiers.")

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules", help="TOML rules file (default: LEADSYNC_ALERT_RULES_FILE or the built-ins)."
    ),
]


def _with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run ``work`` on a Runtime of the configured deployment; a configuration problem (e.g.
    no encryption keys on PostgreSQL) is a one-line error, not a traceback."""
    from leadsync.runtime import Runtime

    async def main() -> T:
        runtime = Runtime.build(get_settings())
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(main())
    except LeadsyncError as exc:
        fail(str(exc))


def _rules_path(rules: Path | None) -> Path | None:
    return rules or get_settings().alert_rules_file


@alerts_app.command("export")
def alerts_export(
    rules: RulesOption = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the rules as a Prometheus rules file (for Prometheus + Alertmanager)."""
    from leadsync.observability.alert_rules import RulesError, export_prometheus, load_rules

    try:
        text = export_prometheus(load_rules(_rules_path(rules)))
    except RulesError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}")


@alerts_app.command("send-test")
def alerts_send_test(
    route: Annotated[str, typer.Argument(help="email, slack or pagerduty.")],
) -> None:
    """Send a test notification through one configured route (PagerDuty: trigger + resolve)."""
    from leadsync.observability.notifiers import AlertEvent, deliver, notifiers_from_settings

    notifier = notifiers_from_settings(get_settings()).get(route)
    if notifier is None:
        typer.echo(f"error: route {route!r} is not configured (see README: Alerting)", err=True)
        raise typer.Exit(2)

    async def send() -> bool:
        ok = True
        for status in ("firing", "resolved"):
            event = AlertEvent(
                rule="LeadsyncTest",
                status=status,
                summary="test notification from leadsync",
                value=None,
                threshold=0,
                dedup_key="leadsync-test",
            )
            ok = await deliver(notifier, event, attempts=2, backoff=1.0) and ok
        return ok

    if not asyncio.run(send()):
        typer.echo(f"{route}: delivery failed (see the log)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{route}: test notification sent")


def report(
    since: Annotated[str, typer.Option(help="Period: 7d, 24h, 30m.")] = "7d",
    integration: Annotated[
        str | None, typer.Option(help="One integration's figures (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The spec's success criteria from the data, each PASS/FAIL against its target."""
    from leadsync.observability.report import PeriodError, build_report, parse_since, report_lines

    try:
        period = parse_since(since)
    except PeriodError as exc:
        fail(str(exc))
    ids = None if integration is None else [parse_uuid(integration, what="integration id")]

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await build_report(session, since=period, integration_ids=ids)

    data = run(work)
    emit(data, as_json=as_json, lines=report_lines(data))


def doctor(
    integration: Annotated[
        str | None, typer.Option(help="Check one integration (default: all).")
    ] = None,
    send_test: Annotated[
        bool, typer.Option("--send-test", help="Send a test notification through each route.")
    ] = False,
    post: Annotated[
        bool, typer.Option("--post", help="Add the post-deployment figures (last 24 h).")
    ] = False,
    round_trip: Annotated[
        bool,
        typer.Option(
            "--round-trip",
            help="Push a marked test prospect, change it in ResMan, pull it back, clean up "
            "(ResMan keeps the prospect, marked lost: it has no delete).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The deployment checklist, automated: each item PASS/FAIL with a one-line fix; exits 1
    when any item fails. Note: it flips the kill switch and back to prove it works."""
    from leadsync.db.migrate import current, head
    from leadsync.observability.doctor import as_dicts, doctor_lines, run_doctor

    wanted = None if integration is None else parse_uuid(integration, what="integration id")
    settings = get_settings()
    if current(url=settings.effective_database_url) != head():
        fail("the database is not at the newest migration: run leadsync db upgrade")

    async def work(runtime: Runtime) -> list[Check]:
        return await run_doctor(
            runtime, integration_id=wanted, send_test=send_test, post=post, round_trip=round_trip
        )

    checks = _with_runtime(work)
    emit(as_dicts(checks), as_json=as_json, lines=doctor_lines(checks))
    if not all(c.passed for c in checks):
        raise typer.Exit(1)


def reconcile(
    integration: Annotated[str, typer.Option(help="The integration to check.")],
    repair: Annotated[
        bool, typer.Option("--repair", help="Heal the drift through the merge engine.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Check this many most recent linked leads.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Compare both sides for an integration's leads: every chatbot lead has a prospect, fields
    agree with the merge base on both sides, no prospect linked twice. Exits 1 on drift left
    unrepaired."""
    from leadsync.observability.consistency import UnknownIntegrationError
    from leadsync.observability.consistency import reconcile as run_reconcile

    wanted = parse_uuid(integration, what="integration id")

    async def work(runtime: Runtime) -> dict[str, Any]:
        try:
            found = await run_reconcile(runtime, integration_id=wanted, repair=repair, limit=limit)
        except UnknownIntegrationError as exc:
            fail(str(exc))
        return found.as_dict()

    data = _with_runtime(work)
    lines = [f"{data['leads_checked']} leads checked, {len(data['drift'])} drift"]
    lines += [
        f"  {d['check']}  lead {d['conversation_id']}  prospect {d['resman_lead_id'] or '-'}  "
        f"{','.join(d['fields'])}  {'repaired' if d['repaired'] else 'not repaired'}"
        for d in data["drift"]
    ]
    emit(data, as_json=as_json, lines=lines)
    if any(not d["repaired"] for d in data["drift"]):
        raise typer.Exit(1)
