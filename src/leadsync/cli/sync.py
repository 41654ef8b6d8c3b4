"""`leadsync sync`: the global kill switch (pause, resume, status) and pulls on demand.

Like the other operator commands: the schema is brought up to date, each command runs in one
transaction, and a refusal exits 1 with a one-line message on stderr.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import integrations as admin_integrations
from leadsync.admin import queue as admin_queue
from leadsync.cli.support import JsonOption, emit, fail, parse_uuid, run
from leadsync.config import get_settings
from leadsync.errors import LeadsyncError
from leadsync.resman.errors import ResManError
from leadsync.sync.queue.flags import push_paused, set_push_paused

if TYPE_CHECKING:
    from leadsync.resman.search import SearchProgress
    from leadsync.sync.pull.plan import PullSummary

sync_app = typer.Typer(
    help="The global kill switch (pause and resume every push to ResMan), and pulls on demand.",
    no_args_is_help=True,
)


# --- kill switch -------------------------------------------------------------------------
def _operator() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        return "cli"
    return f"cli:{user}"[:100]


def _set_paused(*, paused: bool) -> None:
    async def work(session: AsyncSession) -> None:
        await set_push_paused(session, paused=paused, changed_by=_operator())

    run(work)


@sync_app.command("pause")
def sync_pause() -> None:
    """Stop every push to ResMan. Leads are still accepted and queued; nothing is lost."""
    _set_paused(paused=True)
    typer.echo("pushes paused: leads are queued until `leadsync sync resume`")


@sync_app.command("resume")
def sync_resume() -> None:
    """Resume pushes; the queue drains in order."""
    _set_paused(paused=False)
    typer.echo("pushes resumed")


@sync_app.command("status")
def sync_status(as_json: JsonOption = False) -> None:
    """Show whether pushes are paused, and the queue counts."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        return {
            "push_paused": await push_paused(session),
            "queue": await admin_queue.queue_stats(session),
        }

    data = run(work)
    queue = data["queue"]
    lines = [
        f"pushes {'PAUSED' if data['push_paused'] else 'running'}",
        f"queue: {', '.join(f'{state}={n}' for state, n in queue.items())}",
    ]
    emit(data, as_json=as_json, lines=lines)


# --- pull on demand ----------------------------------------------------------------------
#: How long `sync pull` waits for a scheduled poll of the same integration to finish.
PULL_LOCK_WAIT_SECONDS = 120.0


def parse_time(value: str, *, what: str) -> datetime:
    """An ISO 8601 time (UTC when it has no offset), or exit 1 naming `what`."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{what} {value!r} is not an ISO 8601 time (e.g. 2026-11-01T00:00:00Z)")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def progress_line(report: SearchProgress) -> str:
    """One line of the pull's progress display."""
    return (
        f"pulling {report.fraction_done:6.1%}  up to {report.completed_until.isoformat()}  "
        f"windows {report.windows_done} (split {report.windows_split})  "
        f"prospects {report.prospects_yielded}"
    )


def pull_lines(summary: PullSummary) -> list[str]:
    """The human-readable result of one pull."""
    if summary.window_start is None or summary.window_end is None:
        return [f"integration {summary.integration_id}: nothing to pull yet (window is empty)"]
    lines = [
        f"pulled integration {summary.integration_id}: {summary.prospects_seen} prospect(s) "
        f"modified {summary.window_start.isoformat()} .. {summary.window_end.isoformat()}",
        f"  new leads: {summary.new_leads}  updated: {summary.updated_leads}  "
        f"unchanged: {summary.unchanged}  ignored: {summary.ignored}",
        f"  conflicts resolved: {summary.conflicts_resolved}  open for review: "
        f"{summary.conflicts_open}  queued for retry: {summary.failed_syncs}",
        f"  cursor: {_iso(summary.cursor_before)} -> {_iso(summary.cursor_after)}",
    ]
    if summary.failed_window is not None:
        start, end = summary.failed_window
        lines.append(
            f"  NOT READ: {start.isoformat()} .. {end.isoformat()} holds more prospects than "
            "ResMan lists in one search and cannot be split further; the cursor stops before it"
        )
    return lines


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"


class _ProgressDisplay:
    """A progress line rewritten in place on a terminal's stderr; silent otherwise (logs and
    pipes get the summary only)."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self._shown = False

    def __call__(self, report: SearchProgress) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[2K" + progress_line(report))
            sys.stderr.flush()
            self._shown = True

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


async def _pull(
    integration_id: uuid.UUID, *, since: datetime | None, display: _ProgressDisplay
) -> PullSummary:
    # Imported here, not at the top: the pull is the sync engine, which every other
    # `leadsync` command, `--help` included, would load too. Not the whole runtime: a pull
    # needs no web framework, hub or worker (half a second of imports).
    from leadsync.db.engine import create_engine_for, create_sessionmaker
    from leadsync.security.crypto import load_keys
    from leadsync.sync.pull.scheduler import PullScheduler
    from leadsync.sync.queue.clients import target_cache

    settings = get_settings()
    engine = create_engine_for(settings.effective_database_url)
    targets, clients = target_cache(settings, keys=load_keys(settings=settings))
    scheduler = PullScheduler.from_settings(
        settings, engine=engine, sessionmaker=create_sessionmaker(engine), targets=targets
    )
    try:
        return await scheduler.pull_now(
            integration_id=integration_id,
            since=since,
            trigger="cli",
            wait=PULL_LOCK_WAIT_SECONDS,
            on_progress=display,
        )
    finally:
        display.close()
        await clients.aclose()
        await engine.dispose()


@sync_app.command("pull")
def sync_pull(
    integration: Annotated[str, typer.Option("--integration", help="Integration UUID.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Read changes from this ISO 8601 time (default: the integration's cursor)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Pull one integration from ResMan now: store every prospect changed since the cursor
    (or --since), walk-ins included, with a progress line on a terminal."""
    wanted = parse_uuid(integration, what="integration id")
    since_at = parse_time(since, what="--since") if since else None

    async def check(session: AsyncSession) -> None:
        row = await admin_integrations.get_integration(session, integration_id=wanted)
        if not row.sync_enabled or row.sync_direction == "to_resman":
            reason = "disabled" if not row.sync_enabled else "direction is to_resman"
            fail(f"integration {wanted} does not pull ({reason})")

    run(check)  # migrates the schema, and refuses an unknown or non-pulling integration
    try:
        summary = asyncio.run(_pull(wanted, since=since_at, display=_ProgressDisplay()))
    except LeadsyncError as exc:
        fail(str(exc))
    except ResManError as exc:
        from leadsync.sync.queue.failures import classify

        fail(
            f"ResMan failed before the pull started ({classify(exc).category}); nothing was pulled"
        )
    emit(summary.to_dict(), as_json=as_json, lines=pull_lines(summary))
    if summary.failed_window is not None:
        raise typer.Exit(code=2)
