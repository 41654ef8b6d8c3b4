"""`leadsync queue`: inspect the sync queue and retry dead letters (list, retry, stats).

Each command brings the schema up to date, runs in one transaction committed at the end (a
failing command writes nothing) and exits 1 with a one-line message on stderr when refused
(leadsync.cli.support).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import queue as admin_queue
from leadsync.cli.support import JsonOption, emit, fail, parse_uuid, run
from leadsync.db.vocab import QUEUE_STATES

queue_app = typer.Typer(help="Inspect the sync queue and retry dead letters.", no_args_is_help=True)


@queue_app.command("list")
def queue_list(
    state: Annotated[
        str | None, typer.Option(help=f"Only jobs in this state: {', '.join(QUEUE_STATES)}.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many jobs.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List queue jobs in queue order (the lead data itself is not shown)."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return await admin_queue.list_queue(session, state=state, limit=limit)

    data = run(work)
    lines = [
        f"{d['id']}  #{d['seq']}  {d['state']}  {d['sync_operation']}  "
        f"retries={d['retry_count']}/{d['max_retries']}"
        + (f"  {d['error_category']}: {d['last_error']}" if d["last_error"] else "")
        for d in data
    ]
    emit(data, as_json=as_json, lines=lines or ["no jobs"])


@queue_app.command("retry")
def queue_retry(
    job_ids: Annotated[
        list[str] | None, typer.Argument(help="Dead-letter job UUIDs to queue again.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Queue every dead letter again.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Queue dead letters again with fresh retries: the given JOB_IDs, or all with --all."""
    if bool(job_ids) == all_:
        fail("give dead-letter job ids or --all (not both)")
    wanted = None if all_ else [parse_uuid(j, what="job id") for j in job_ids or []]

    async def work(session: AsyncSession) -> list[uuid.UUID]:
        return await admin_queue.replay_dead(session, job_ids=wanted)

    replayed = [str(j) for j in run(work)]
    lines = [f"queued {len(replayed)} dead letter(s) again", *replayed]
    emit({"replayed": replayed}, as_json=as_json, lines=lines)


@queue_app.command("stats")
def queue_stats(as_json: JsonOption = False) -> None:
    """Count the jobs in every state."""
    stats = run(admin_queue.queue_stats)
    emit(stats, as_json=as_json, lines=[f"{state}: {n}" for state, n in stats.items()])
