"""POST /api/resman/webhooks/lead-update: the signed LeadUpdateWebhook receiver.

The sender (the sandbox, or a relay in front of ResMan) cannot hold one of our API keys, so
the Standard Webhooks signature is the authentication. The URL names the integration
(``?integration=<id>``) so that even an event for a prospect we have never seen can be
verified with that integration's secrets. Every refusal is counted and writes nothing.
"""

from __future__ import annotations

import uuid
from typing import Final

from fastapi import APIRouter, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel

from leadsync.api.deps import PROBLEM, runtime_of
from leadsync.api.problems import ProblemError
from leadsync.sync.inbound.payload import LeadUpdateWebhook, MalformedWebhookError, parse_delivery
from leadsync.sync.inbound.webhook_secrets import SIGNATURE_HEADERS
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

router = APIRouter(prefix="/api/resman/webhooks", tags=["webhooks"])

REJECTED = Counter(
    "leadsync_webhook_rejected",
    "Webhook deliveries refused, by reason (nothing of them is stored).",
    ["reason"],
)
REJECT_REASONS: Final = ("signature", "malformed", "unknown_integration")
for _reason in REJECT_REASONS:
    REJECTED.labels(_reason)  # export every reason from the start, at 0
#: One answer for a bad signature and an unknown integration: which integrations exist is
#: none of an unauthenticated caller's business.
_UNAUTHORIZED: Final = "missing or invalid webhook signature"


class WebhookAck(BaseModel):
    accepted: bool
    webhook_id: str
    duplicate: bool = False


def _rejected(reason: str) -> ProblemError:
    REJECTED.labels(reason).inc()
    return ProblemError(401, "Unauthorized", _UNAUTHORIZED)


def _integration_id(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


_BODY_DOC: Final = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": LeadUpdateWebhook.model_json_schema()}},
    },
    "parameters": [
        # Read from the request itself, not declared as a FastAPI parameter: its per-request
        # parameter solving cost more CPU than the value is worth here (issue 10).
        {
            "name": "integration",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "format": "uuid"},
            "description": "The integration id the webhook URL was registered with.",
        },
        *(
            {
                "name": name,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Standard Webhooks signature header",
            }
            for name in SIGNATURE_HEADERS
        ),
    ],
}


@router.post(
    "/lead-update",
    status_code=202,
    response_model=WebhookAck,
    responses={
        200: {"model": WebhookAck, "description": "a redelivery: already received, ignored"},
        400: PROBLEM,
        401: PROBLEM,
        413: PROBLEM,
    },
    summary="Receive a signed LeadUpdateWebhook from ResMan (or a relay)",
    openapi_extra=_BODY_DOC,
)
async def lead_update(request: Request, response: Response) -> WebhookAck:
    """Verifies the signature with the integration's secrets, stores the delivery in the
    inbox and answers 202; the update is applied by the worker. A redelivery (same
    ``webhook-id``) is acknowledged with 200 and changes nothing."""
    rt = runtime_of(request)
    body = await request.body()
    integration_id = _integration_id(request.query_params.get("integration"))
    if integration_id is None:
        raise _rejected("unknown_integration")
    target = await rt.webhook_secrets.get(integration_id=integration_id)
    if target is None:
        raise _rejected("unknown_integration")
    if not target.verify(body, request.headers):
        log.info("webhook signature refused", integration_id=str(integration_id))
        raise _rejected("signature")
    webhook_id = request.headers["webhook-id"]
    try:
        delivery = parse_delivery(
            body, webhook_id=webhook_id, resman_property_id=target.resman_property_id
        )
    except MalformedWebhookError as exc:
        REJECTED.labels("malformed").inc()
        raise ProblemError(400, "Malformed webhook", exc.detail, errors=exc.errors) from None
    # Stored with whatever else arrived meanwhile, in one transaction (a group commit).
    accepted = await rt.inbox.accept(integration_id=integration_id, delivery=delivery)
    if accepted.duplicate:
        response.status_code = 200
    else:
        rt.worker.wake()
    return WebhookAck(accepted=True, webhook_id=webhook_id, duplicate=accepted.duplicate)
