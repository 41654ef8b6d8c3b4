"""``leadsync alerts ...``: the alert rules outside the running service."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from leadsync.config import get_settings

alerts_app = typer.Typer(help="Alert rules: export them for Prometheus, test the notifiers.")

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules", help="TOML rules file (default: LEADSYNC_ALERT_RULES_FILE or the built-ins)."
    ),
]


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
