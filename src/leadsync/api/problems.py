"""RFC 9457 problem details for every error the API returns.

A client always gets ``application/problem+json`` with a title, the status, a detail that
names the problem, and for validation errors the list of offending fields in ``errors``.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadsync.errors import DomainError
from leadsync.telemetry.logging import get_logger

PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Correlation-ID"


class ProblemError(DomainError):
    """Raise from a route to answer with a problem document (services raise the plain
    :class:`~leadsync.errors.DomainError`; both are answered the same way)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, title, detail, errors=errors)
        self.headers = headers


def _headers(exc: DomainError) -> dict[str, str] | None:
    headers = dict(exc.headers or {}) if isinstance(exc, ProblemError) else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return headers or None


def problem_response(
    *,
    status: int,
    title: str,
    detail: str,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # FastAPI prefixes the location with where the value came from; the client knows its body.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_errors(exc: RequestValidationError) -> tuple[int, str, list[dict[str, str]]]:
    errors: list[dict[str, str]] = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
            ctx = err.get("ctx") or {}
            errors.append({"field": "body", "message": f"malformed JSON: {ctx.get('error', '')}"})
            continue
        message = str(err.get("msg", "invalid value"))
        # pydantic's "Value error, x" prefix is noise for an API client.
        message = message.removeprefix("Value error, ")
        errors.append({"field": _field_path(err.get("loc", ())), "message": message})
    if malformed:
        return 400, "Malformed JSON body", errors
    return 422, "Invalid request", errors


def disk_full(exc: DBAPIError) -> bool:
    """The database refused a write for lack of room: SQLite's SQLITE_FULL ("database or
    disk is full"), PostgreSQL's disk_full (SQLSTATE 53100)."""
    orig = exc.orig
    return (
        getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
        or getattr(orig, "sqlstate", None) == "53100"
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, title, errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        return problem_response(
            status=status, title=title, detail=detail, instance=request.url.path, errors=errors
        )

    @app.exception_handler(DomainError)
    async def _problem(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(
            status=exc.status,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=_headers(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            status=exc.status_code,
            title=str(exc.detail) if exc.detail else "Error",
            detail=str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # The database went away under the request (a restart, a cut connection): nothing of
        # it was committed, and the client may simply send it again. Any other database
        # error (a constraint, a bad statement) is a bug: 500 with its correlation id.
        if not (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)):
            return await _unexpected(request, exc)
        full = disk_full(exc)
        get_logger(__name__).warning(
            # A full disk needs an operator, not patience: say which it is.
            "database full: no room to write" if full else "database unavailable",
            path=request.url.path,
            error=type(exc.orig).__name__,
        )
        return problem_response(
            status=503,
            title="Database unavailable",
            detail=(
                "the database has no room to store this right now (disk full); retry shortly"
                if full
                else "the database cannot be reached right now; retry shortly"
            ),
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug (or the database failing under us): the client gets a problem document with
        # an id, never a stack trace or the exception text (it may quote SQL parameters);
        # the traceback is logged, redacted, under the same id.
        correlation_id = uuid.uuid4().hex
        # A fresh logger (see the runner's internal errors): this line must never be lost.
        get_logger(__name__).error(
            "unhandled error",
            correlation_id=correlation_id,
            method=request.method,
            path=request.url.path,
            exc_info=exc,
        )
        return problem_response(
            status=500,
            title="Internal error",
            detail=f"an unexpected error occurred; quote correlation id {correlation_id} "
            "to find it in the log",
            instance=request.url.path,
            headers={CORRELATION_HEADER: correlation_id},
            extra={"correlation_id": correlation_id},
        )
