"""The sandbox as an ASGI app: ResMan's wire API at the root, the admin API under /admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from leadsync.sandbox.admin import router as admin_router
from leadsync.sandbox.admin_staff import router as staff_router
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.service import Conflict, Invalid, NotFound, Sandbox
from leadsync.sandbox.wire import build_router
from leadsync.sandbox.wire_format import silence_injected_resets
from leadsync.sandbox.wire_methods import METHODS

ADMIN_DOCS_PATH = "/admin/docs"
ADMIN_OPENAPI_PATH = "/admin/openapi.json"

_STATUS = {NotFound: 404, Conflict: 409, Invalid: 422}


async def _admin_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=_STATUS[type(exc)])


def create_sandbox_app(config: SandboxConfig | None = None) -> FastAPI:
    """A new sandbox; its state (``app.state.sandbox``) is loaded and seeded at startup."""
    sandbox = Sandbox(config or SandboxConfig())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    app = FastAPI(
        title="leadsync ResMan sandbox",
        description="A ResMan double speaking the real wire protocol (POST /{Area}/{Method}, "
        "form-encoded), plus an admin API to manage tenants, inject faults and act as "
        "on-site staff.",
        lifespan=lifespan,
        docs_url=ADMIN_DOCS_PATH,
        openapi_url=ADMIN_OPENAPI_PATH,
        redoc_url=None,
    )
    app.state.sandbox = sandbox
    for error_type in _STATUS:
        app.add_exception_handler(error_type, _admin_error)
    # Admin first: the wire API's catch-all path would otherwise shadow POST /admin/...
    app.include_router(admin_router)
    app.include_router(staff_router)
    app.include_router(build_router(METHODS))
    silence_injected_resets()
    return app
