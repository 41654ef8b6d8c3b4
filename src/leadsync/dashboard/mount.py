"""Mount the dashboard's two routers (pages that read; pages that change things) and its
page error handlers on the app (called by ``create_app``)."""

from __future__ import annotations

from fastapi import FastAPI

from leadsync.dashboard import review, routes
from leadsync.dashboard.web import install_page_handlers


def mount(app: FastAPI) -> None:
    """Serve the dashboard under ``/dashboard``."""
    app.include_router(routes.router)
    app.include_router(review.router)
    install_page_handlers(app)
