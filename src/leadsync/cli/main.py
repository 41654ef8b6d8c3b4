"""The root ``leadsync`` command: global options, and every command group registered in the
order ``leadsync --help`` lists them. Each group lives in its own module of this package."""

from __future__ import annotations

from typing import Annotated

import typer

from leadsync import __version__
from leadsync.cli import run as run_commands
from leadsync.cli.apikey import apikey_app
from leadsync.cli.conflicts import conflicts_app
from leadsync.cli.db import db_app
from leadsync.cli.integration import integration_app
from leadsync.cli.observability import alerts_app, doctor, reconcile, report
from leadsync.cli.queue import queue_app
from leadsync.cli.sync import sync_app
from leadsync.cli.watch import watch
from leadsync.config import get_settings
from leadsync.telemetry.logging import configure_logging

app = typer.Typer(
    name="leadsync",
    help="Two-way lead sync between the DomIQ leasing chatbot and ResMan Lead Management.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)
app.add_typer(db_app, name="db")
app.add_typer(integration_app, name="integration")
app.add_typer(apikey_app, name="apikey")
app.add_typer(queue_app, name="queue")
app.add_typer(sync_app, name="sync")
app.add_typer(conflicts_app, name="conflicts")
app.add_typer(alerts_app, name="alerts")
app.command("watch")(watch)
app.command("report")(report)
app.command("doctor")(doctor)
app.command("reconcile")(reconcile)


@app.callback()
def _root(
    log_level: Annotated[
        str | None, typer.Option(help="Log level (default: LEADSYNC_LOG_LEVEL or INFO).")
    ] = None,
) -> None:
    settings = get_settings()
    configure_logging(level=log_level or settings.log_level, fmt=settings.log_format)


@app.command()
def version() -> None:
    """Print the leadsync version."""
    typer.echo(__version__)


app.command()(run_commands.sandbox)
app.command()(run_commands.up)
app.command()(run_commands.serve)
app.command()(run_commands.worker)


def main() -> None:
    app()
