"""create_app(): the HTTP service (routers, middleware, lifespan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from leadsync import __version__
from leadsync.api.limits import BodySizeLimit
from leadsync.api.problems import install_problem_handlers
from leadsync.config import Settings, get_settings
from leadsync.conflicts.routes import router as conflicts_router
from leadsync.dashboard.mount import mount as mount_dashboard
from leadsync.leads.chat_routes import router as chat_router
from leadsync.leads.routes import router as leads_router
from leadsync.leads.status_and_merge_routes import router as lead_sync_router
from leadsync.observability.routes import router as metrics_router
from leadsync.realtime.ws import router as realtime_router
from leadsync.runtime import Runtime
from leadsync.sync.inbound.webhook_routes import router as webhooks_router
from leadsync.sync.pull.routes import router as pull_router
from leadsync.sync.queue.dead_letter_routes import router as queue_router


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, run_worker: bool = False
) -> FastAPI:
    """The API. ``runtime`` lets a caller (``leadsync up``, tests) share its objects; without
    one the app builds its own at start-up and closes it at shutdown."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        rt = runtime or Runtime.build(settings)
        app.state.runtime = rt
        await rt.hub.start()
        rt.listener.start()  # other instances' commits wake this hub (PostgreSQL)
        if run_worker:
            rt.start_worker()
        if own and settings.alerts_evaluate:
            rt.start_alerts()
        try:
            yield
        finally:
            if own:
                await rt.close()

    app = FastAPI(
        title="leadsync",
        version=__version__,
        description="Two-way lead sync between the DomIQ leasing chatbot and ResMan.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    # Routes are matched in order: the webhook receiver, the busiest unauthenticated route,
    # goes first.
    app.include_router(webhooks_router)
    app.include_router(pull_router)  # before leads: /leads/pull is not a lead id
    app.include_router(lead_sync_router)
    app.include_router(leads_router)
    app.include_router(chat_router)
    app.include_router(conflicts_router)
    app.include_router(queue_router)
    app.include_router(realtime_router)
    app.include_router(metrics_router)
    mount_dashboard(app)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
