"""``GET /metrics``: Prometheus text, guarded because its labels name integrations.

With ``LEADSYNC_METRICS_TOKEN`` set, a scraper must send ``Authorization: Bearer <token>``
(from anywhere); unset, only loopback clients are answered (a Prometheus on the same host,
``make run``). API keys are never accepted here: a scrape token grants nothing else.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from leadsync.api.problems import ProblemError
from leadsync.db.session import read_session
from leadsync.observability.metrics import event_registry
from leadsync.observability.state import read_state, state_registry

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
