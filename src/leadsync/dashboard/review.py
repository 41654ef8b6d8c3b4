"""The pages that decide: conflicts awaiting review, and dead letters to replay.

Every change goes through the service the API uses (``conflicts.service``,
``admin.queue``), scoped to the viewer's properties, after the form's CSRF token is checked.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from leadsync.admin import AdminError, NotFoundError
from leadsync.admin import queue as admin_queue
from leadsync.api.deps import SessionDep, runtime_of
from leadsync.api.problems import ProblemError
from leadsync.conflicts import service
from leadsync.dashboard import data
from leadsync.dashboard.web import (
    PREFIX,
    PageError,
    Viewer,
    ViewerDep,
    checked_form,
    form_uuid,
    integration_ids_of,
    render,
    see_other,
)
from leadsync.db.session import begin_read
from leadsync.leads import merge_flow
from leadsync.leads.status_schemas import MergeField, MergeLeadsRequest

router = APIRouter(prefix=PREFIX, include_in_schema=False)
#: What "the same person" takes from ResMan's prospect when merging a possible duplicate.
_IDENTITY: tuple[MergeField, ...] = ("first_name", "last_name", "email", "phone")
#: Who the resolution is logged as: the key's name (never a person's data).
_BY = "dashboard ({name})"


async def _conflicts_page(
    request: Request, db: SessionDep, viewer: Viewer, *, status: int = 200, error: str = ""
) -> HTMLResponse:
    rows = await service.list_conflicts(db, status="open", property_ids=viewer.property_ids)
    leads = await data.conflict_leads(db, conflicts=rows)
    return render(
        request,
        "conflicts.html",
        viewer=viewer,
        page="conflicts",
        conflicts=rows,
        leads=leads,
        status=status,
        error=error,
    )


@router.get("/conflicts")
async def conflicts_page(request: Request, db: SessionDep, viewer: ViewerDep) -> HTMLResponse:
    await begin_read(db)
    return await _conflicts_page(request, db, viewer)


@router.post("/conflicts/resolve")
async def resolve(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """One click: ResMan's value, ours, or an edited value (validated like the lead API);
    "dismiss" leaves both sides as they are (for a possible duplicate: two people)."""
    form = await checked_form(request, viewer)
    conflict_id = form_uuid(form, "conflict_id")
    choice = form.get("choice", "")
    by = _BY.format(name=viewer.principal.name)
    kwargs: dict[str, Any]
    if choice in ("resman", "domiq"):
        kwargs = {"pick": choice}
    elif choice == "value":
        kwargs = {"value": form.get("value", "")}
    elif choice != "dismiss":
        raise PageError(422, "choice must be resman, domiq, value or dismiss")
    try:
        if choice == "dismiss":
            await service.dismiss_conflict(
                db, conflict_id=conflict_id, dismissed_by=by, property_ids=viewer.property_ids
            )
        else:
            await service.resolve_conflict(
                db,
                conflict_id=conflict_id,
                resolved_by=by,
                property_ids=viewer.property_ids,
                **kwargs,
            )
    except service.ConflictError as exc:
        await db.rollback()
        if exc.status in (404, 409):
            raise PageError(exc.status, str(exc)) from None
        return await _conflicts_page(request, db, viewer, status=exc.status, error=str(exc))
    await db.commit()
    runtime_of(request).worker.wake()
    return see_other("/conflicts")


@router.post("/conflicts/merge")
async def merge(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """A possible duplicate is the same person: merge the lead into the ResMan prospect it
    shares a phone with (the merge API's flow; ResMan's name and contacts are kept)."""
    form = await checked_form(request, viewer)
    conflict_id = form_uuid(form, "conflict_id")
    try:
        conflict = await service.get_conflict(
            db, conflict_id=conflict_id, property_ids=viewer.property_ids
        )
    except service.ConflictError as exc:
        raise PageError(exc.status, str(exc)) from None
    if conflict.conflict_type != "duplicate_lead" or conflict.status != "open":
        raise PageError(409, f"conflict {conflict_id} is not an open possible duplicate")
    body = MergeLeadsRequest(
        resman_lead_id=conflict.other_prospect_id or "",
        domiq_conversation_id=conflict.conversation_id,
        merge_strategy="resman_wins",
        merge_fields=list(_IDENTITY),
    )
    # Nothing written yet; the merge reads ResMan with no transaction open.
    await db.rollback()
    runtime = runtime_of(request)
    try:
        await merge_flow.merge_with_resman(runtime, db, principal=viewer.principal, body=body)
    except ProblemError as exc:
        raise PageError(exc.status, exc.detail) from None
    await db.commit()
    runtime.worker.wake()
    return see_other("/conflicts")


@router.get("/dead-letters")
async def dead_letters_page(request: Request, db: SessionDep, viewer: ViewerDep) -> HTMLResponse:
    await begin_read(db)
    ids = await integration_ids_of(db, viewer)
    letters = await admin_queue.dead_letters(db, integration_ids=ids, limit=500)
    return render(request, "dead_letters.html", viewer=viewer, page="dead", letters=letters)


@router.post("/dead-letters/replay")
async def replay(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """Replay one dead letter (``job_id``) or, without it, all of the viewer's."""
    form = await checked_form(request, viewer)
    job_ids = [form_uuid(form, "job_id")] if form.get("job_id") else None
    scope = await integration_ids_of(db, viewer)
    try:
        await admin_queue.replay_dead(db, job_ids=job_ids, integration_ids=scope)
    except NotFoundError as exc:
        raise PageError(404, str(exc)) from None
    except AdminError as exc:
        raise PageError(409, str(exc)) from None
    await db.commit()
    runtime_of(request).worker.wake()
    return see_other("/dead-letters")
