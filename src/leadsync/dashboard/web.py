"""What every dashboard page shares: templates, the signed-in viewer, forms and CSRF.

Pages answer HTML, also when something is wrong: a page that cannot be shown renders the
error page with the status and a sentence saying why (never problem+json to a browser).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select

from leadsync.api import sessions
from leadsync.api.auth import Principal
from leadsync.api.deps import SessionDep, runtime_of
from leadsync.db.models import Property, ResmanIntegration
from leadsync.db.session import read_session

PREFIX = "/dashboard"
#: A dashboard form has a handful of fields; anything bigger is not one of ours.
MAX_FORM_BYTES = 16 * 1024

templates = Environment(
    loader=PackageLoader("leadsync.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    text = value.isoformat() if isinstance(value, datetime) else value
    return text[:19].replace("T", " ")


templates.filters["when"] = _when


class PageError(Exception):
    """Shown as the error page with ``status`` (and nothing was changed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    csrf: str

    @property
    def property_ids(self) -> frozenset[uuid.UUID]:
        return self.principal.property_ids


async def viewer_dep(request: Request) -> Viewer:
    runtime = runtime_of(request)
    session = sessions.read(keys=runtime.keys, cookie=request.cookies.get(sessions.COOKIE))
    principal = None
    if session is not None:
        # Its own reading session: the page's session may have to write.
        async with read_session(runtime.sessionmaker) as db:
            principal = await sessions.principal_of(db, session=session)
    if session is None or principal is None:
        raise SignInRequired
    return Viewer(principal=principal, csrf=session.csrf)


ViewerDep = Annotated[Viewer, Depends(viewer_dep)]


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (the only kind the pages send), last value of each field."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        # A browser names the page that sent a form: another site's is refused outright
        # (this also covers the sign-in form, which has no session token yet).
        raise PageError(403, "this form was sent from another site")
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise PageError(415, "the dashboard accepts only its own forms (urlencoded)")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PageError(413, "form too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "the form could not be read") from None
    return {name: values[-1] for name, values in parsed.items()}


async def checked_form(request: Request, viewer: Viewer) -> dict[str, str]:
    """The form, after its CSRF token proved it came from one of this session's pages."""
    form = await read_form(request)
    session = sessions.WebSession(key_id=viewer.principal.key_id, csrf=viewer.csrf)
    if not sessions.csrf_ok(session, form.get("csrf")):
        raise PageError(
            403, "this form was not sent by a page of this session (CSRF token refused)"
        )
    return form


def form_uuid(form: dict[str, str], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(form.get(name, ""))
    except ValueError:
        raise PageError(422, f"{name}: not a valid id") from None


async def properties_of(db: SessionDep, viewer: Viewer) -> list[dict[str, Any]]:
    """The viewer's properties with their integration (if any), by name."""
    rows = await db.execute(
        select(Property, ResmanIntegration)
        .outerjoin(ResmanIntegration, ResmanIntegration.property_id == Property.id)
        .where(Property.id.in_(list(viewer.property_ids)))
        .order_by(Property.name, Property.id)
    )
    return [{"property": p, "integration": i} for p, i in rows.all()]


async def integration_ids_of(db: SessionDep, viewer: Viewer) -> list[uuid.UUID]:
    rows = await db.scalars(
        select(ResmanIntegration.id).where(
            ResmanIntegration.property_id.in_(list(viewer.property_ids))
        )
    )
    return list(rows)


def render(
    request: Request, name: str, *, viewer: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    page = templates.get_template(name).render(
        request=request,
        viewer=viewer,
        prefix=PREFIX,
        property_ids=sorted(str(p) for p in viewer.property_ids) if viewer else [],
        **context,
    )
    # Pages hold lead data: never cached, never framed.
    headers = {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
        "frame-ancestors 'none'; form-action 'self'",
        "Referrer-Policy": "same-origin",
    }
    return HTMLResponse(page, status_code=status, headers=headers)


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


def install_page_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return see_other("/login")

    @app.exception_handler(PageError)
    async def _error(request: Request, exc: PageError) -> Response:
        return render(request, "error.html", viewer=None, status=exc.status, message=exc.message)
