"""``GET /metrics``: Prometheus text, guarded because its labels name integrations.

With ``LEADSYNC_METRICS_TOKEN`` set, a scraper must send ``Authorization: Bearer <token>``
(from anywhere); unset, only loopback clients are answered (a Prometheus on the same host,
``make run``). API keys are never accepted here: a scrape token grants nothing else.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadsync.api.deps import ERRORS, PrincipalDep, SessionDep
from leadsync.api.problems import ProblemError
from leadsync.db.session import read_session
from leadsync.observability.report import PeriodError, build_report, parse_since
from leadsync.observability.state import read_state, state_registry
from leadsync.sync.queue.targets import integration_ids_of
from leadsync.telemetry.metrics import event_registry

router = APIRouter(tags=["ops"])

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def authorize_scrape(request: Request) -> None:
    token = request.app.state.runtime.settings.metrics_token
    if token is None:
        host = request.client.host if request.client else None
        if host not in LOOPBACK:
            raise ProblemError(
                403,
                "Forbidden",
                "/metrics answers loopback clients only; set LEADSYNC_METRICS_TOKEN to "
                "scrape it from elsewhere",
            )
        return
    sent = request.headers.get("authorization", "")
    scheme, _, credential = sent.partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.encode(), expected):
        raise ProblemError(
            401,
            "Unauthorized",
            "missing or wrong scrape token (expected: Bearer <LEADSYNC_METRICS_TOKEN>)",
            headers={"WWW-Authenticate": 'Bearer realm="leadsync-metrics"'},
        )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    authorize_scrape(request)
    runtime = request.app.state.runtime
    async with read_session(runtime.sessionmaker) as session:
        state = await read_state(session)
    body = generate_latest(event_registry()) + generate_latest(state_registry(state))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/api/resman/report", summary="Success criteria report", responses=ERRORS)
async def success_report(
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[str, Query(description="Period: 7d, 24h, 30m.")] = "7d",
) -> dict[str, Any]:
    """The spec's success criteria computed from the data for the key's properties, each
    with its target and PASS/FAIL (null when the period has nothing to measure)."""
    try:
        period = parse_since(since)
    except PeriodError as exc:
        raise ProblemError(
            422, "Unprocessable Content", str(exc), errors=[{"field": "since", "message": str(exc)}]
        ) from exc
    ids = await integration_ids_of(session, property_ids=principal.property_ids)
    return await build_report(session, since=period, integration_ids=ids)
