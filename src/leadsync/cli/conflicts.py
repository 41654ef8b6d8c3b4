"""`leadsync conflicts list|show|resolve|dismiss`: the people's side of manual_review."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.cli.support import JsonOption, emit, fail, field_lines, parse_uuid, run
from leadsync.conflicts import service

conflicts_app = typer.Typer(
    help="Conflicts parked for review: both values and the base, and how to decide them."
)


def _line(c: dict[str, Any]) -> str:
    if c.get("conflict_type") == "duplicate_lead":
        ours, other = c["domiq_value"] or {}, c["resman_value"] or {}
        return (
            f"{c['id']}  possible duplicate: prospect {ours.get('resman_prospect_id')} "
            f"({_who(ours)}) shares a phone with prospect {c['other_prospect_id']} "
            f"({_who(other)})  [{c['status']}]"
        )
    return (
        f"{c['id']}  {c['field']}  base={c['base_value']!r}  domiq={c['domiq_value']!r}  "
        f"resman={c['resman_value']!r}  [{c['status']}]"
    )


def _who(record: dict[str, Any]) -> str:
    name = " ".join(str(p) for p in (record.get("first_name"), record.get("last_name")) if p)
    return ", ".join(str(p) for p in (name, record.get("email"), record.get("phone")) if p)


@conflicts_app.command("list")
def conflicts_list(
    status: Annotated[str, typer.Option(help="open, resolved, dismissed or all.")] = "open",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List conflicts (open ones by default), oldest first."""
    if status not in ("open", "resolved", "dismissed", "all"):
        fail("--status must be open, resolved, dismissed or all")

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        rows = await service.list_conflicts(
            session, status=None if status == "all" else status, limit=limit
        )
        return [service.describe(r) for r in rows]

    data = run(work)
    emit(data, as_json=as_json, lines=[_line(c) for c in data] or ["no conflicts"])


@conflicts_app.command("show")
def conflicts_show(
    conflict_id: Annotated[str, typer.Argument(help="Conflict UUID.")],
    as_json: JsonOption = False,
) -> None:
    """Show one conflict: the field, the base both sides agreed on, and both new values."""
    wanted = parse_uuid(conflict_id, what="conflict id")

    async def work(session: AsyncSession) -> dict[str, Any]:
        try:
            return service.describe(await service.get_conflict(session, conflict_id=wanted))
        except service.ConflictError as exc:
            fail(str(exc))

    data = run(work)
    emit(data, as_json=as_json, lines=field_lines(data))


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: Annotated[str, typer.Argument(help="Conflict UUID.")],
    pick: Annotated[
        str | None, typer.Option(help="Keep one side's value: resman or domiq.")
    ] = None,
    value: Annotated[
        str | None, typer.Option(help="Or give the final value (JSON, or plain text).")
    ] = None,
    by: Annotated[str, typer.Option(help="Who decided (kept in the audit log).")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Decide a conflict; the chosen value reaches both DomIQ and ResMan. A value is checked
    and normalised like the lead API does (a bad email, phone or date is refused)."""
    wanted = parse_uuid(conflict_id, what="conflict id")
    if (pick is None) == (value is None):
        fail("give exactly one of --pick or --value")
    kwargs: dict[str, Any] = {"pick": pick}
    if value is not None:
        try:
            kwargs = {"value": json.loads(value)}
        except json.JSONDecodeError:
            kwargs = {"value": value}

    async def work(session: AsyncSession) -> dict[str, Any]:
        try:
            row = await service.resolve_conflict(
                session, conflict_id=wanted, resolved_by=by, **kwargs
            )
        except service.ConflictError as exc:
            fail(str(exc))
        return service.describe(row)

    data = run(work)
    emit(data, as_json=as_json, lines=[f"resolved: {_line(data)}"])


@conflicts_app.command("dismiss")
def conflicts_dismiss(
    conflict_id: Annotated[str, typer.Argument(help="Conflict UUID.")],
    by: Annotated[str, typer.Option(help="Who decided (kept in the audit log).")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Close a conflict without changing either side (a possible duplicate: two people)."""
    wanted = parse_uuid(conflict_id, what="conflict id")

    async def work(session: AsyncSession) -> dict[str, Any]:
        try:
            row = await service.dismiss_conflict(session, conflict_id=wanted, dismissed_by=by)
        except service.ConflictError as exc:
            fail(str(exc))
        return service.describe(row)

    data = run(work)
    emit(data, as_json=as_json, lines=[f"dismissed: {_line(data)}"])
