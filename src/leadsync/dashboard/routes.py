"""The dashboard's pages: sign-in, sync health, leads and a lead's timeline, integrations.

Conflicts and dead letters (the pages that change things) are in ``review``; both routers
are mounted by :func:`mount`.
"""

from __future__ import annotations

import uuid
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from leadsync.admin import AdminError
from leadsync.admin import integrations as admin_integrations
from leadsync.admin import queue as admin_queue
from leadsync.api import sessions
from leadsync.api.deps import SessionDep, runtime_of
from leadsync.api.problems import ProblemError
from leadsync.dashboard import data
from leadsync.dashboard.web import (
    PREFIX,
    PageError,
    ViewerDep,
    checked_form,
    form_uuid,
    integration_ids_of,
    properties_of,
    read_form,
    render,
    see_other,
)
from leadsync.db.session import begin_read
from leadsync.observability.doctor import as_dicts, run_doctor

router = APIRouter(prefix=PREFIX, include_in_schema=False)
_STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in _STATIC:
        raise PageError(404, "no such file")
    body = files("leadsync.dashboard").joinpath("static", name).read_bytes()
    return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", viewer=None)


@router.post("/login")
async def login(request: Request, db: SessionDep) -> Response:
    """Sign in with an API key: the page's session is scoped to exactly the key's properties."""
    form = await read_form(request)
    runtime = runtime_of(request)
    await begin_read(db)
    try:
        cookie, _ = await sessions.sign_in(db, keys=runtime.keys, api_key=form.get("api_key", ""))
    except ProblemError as refused:
        return render(request, "login.html", viewer=None, status=401, error=refused.detail)
    response = see_other("/")
    response.set_cookie(
        sessions.COOKIE,
        cookie,
        max_age=sessions.MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    await checked_form(request, viewer)
    response = see_other("/login")
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/")
async def health_page(request: Request, db: SessionDep, viewer: ViewerDep) -> HTMLResponse:
    await begin_read(db)
    cards = await data.health(db, properties=await properties_of(db, viewer))
    paused = await admin_queue.pushes_paused(db)
    evaluator = runtime_of(request).alerts
    alerts = None if evaluator is None else (sorted(evaluator.firing()), len(evaluator.rules))
    return render(
        request,
        "health.html",
        viewer=viewer,
        page="health",
        cards=cards,
        paused=paused,
        alerts=alerts,
    )


@router.get("/leads")
async def leads_page(request: Request, db: SessionDep, viewer: ViewerDep) -> HTMLResponse:
    await begin_read(db)
    leads = await data.recent_leads(db, property_ids=viewer.property_ids)
    return render(request, "leads.html", viewer=viewer, page="leads", leads=leads)


@router.get("/leads/{conversation_id}")
async def lead_page(
    conversation_id: uuid.UUID, request: Request, db: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    await begin_read(db)
    found = await data.lead_of(
        db, conversation_id=conversation_id, property_ids=viewer.property_ids
    )
    if found is None:
        raise PageError(404, f"no lead {conversation_id} in your properties")
    conv, link = found
    entries = await data.timeline(db, conversation_id=conv.id)
    return render(
        request, "lead.html", viewer=viewer, page="leads", conv=conv, link=link, entries=entries
    )


@router.get("/integrations")
async def integrations_page(
    request: Request, db: SessionDep, viewer: ViewerDep, doctor: bool = False
) -> HTMLResponse:
    """The integrations; with ``?doctor=true`` also the doctor's checks of each (they call
    ResMan, so they run on demand only)."""
    runtime = runtime_of(request)
    await begin_read(db)
    rows = await properties_of(db, viewer)
    described = [
        {"property": r["property"], "info": admin_integrations.describe(i, keys=runtime.keys)}
        for r in rows
        if (i := r["integration"]) is not None
    ]
    paused = await admin_queue.pushes_paused(db)
    await db.commit()  # no transaction open while the doctor waits on ResMan
    checks = []
    if doctor:
        for integration_id in await integration_ids_of(db, viewer):
            found = await run_doctor(runtime, integration_id=integration_id, integration_only=True)
            checks += as_dicts(found)
    return render(
        request,
        "integrations.html",
        viewer=viewer,
        page="integrations",
        integrations=described,
        paused=paused,
        checks=checks,
        doctor=doctor,
    )


@router.post("/integrations/pause")
async def pause_integration(request: Request, db: SessionDep, viewer: ViewerDep) -> Response:
    """Pause (or resume) one integration: its jobs wait, nothing is lost."""
    form = await checked_form(request, viewer)
    integration_id = form_uuid(form, "integration_id")
    if form.get("action") not in ("pause", "resume"):
        raise PageError(422, "action must be pause or resume")
    if integration_id not in await integration_ids_of(db, viewer):
        raise PageError(404, f"no integration {integration_id} in your properties")
    try:
        await admin_integrations.set_enabled(
            db, integration_id=integration_id, enabled=form["action"] == "resume"
        )
    except AdminError as exc:
        raise PageError(422, str(exc)) from None
    await db.commit()
    runtime_of(request).worker.wake()
    return see_other("/integrations")
