"""POST /api/resman/webhooks/lead-update: the signed LeadUpdateWebhook receiver.

The sender (the sandbox, or a relay in front of ResMan) cannot hold one of our API keys, so
the Standard Webhooks signature is the authentication. The URL names the integration
(``?integration=<id>``) so that even an event for a prospect we have never seen can be
verified with that integration's secrets. Every refusal is counted and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from leadsync.api.deps import PROBLEM, runtime_of
from leadsync.api.problems import ProblemError
from leadsync.db.models import ResmanIntegration
from leadsync.db.session import read_session
from leadsync.db.types import utcnow
from leadsync.errors import DecryptionError
from leadsync.observability.logging import get_logger
from leadsync.security.crypto import KeyRing, open_json
from leadsync.security.webhook_secrets import read_secrets
from leadsync.sync.webhook_payload import LeadUpdateWebhook, MalformedWebhookError, parse_delivery
from leadsync.sync.webhooks import accept_delivery

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
_SIGNATURE_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")
#: One answer for a bad signature and an unknown integration: which integrations exist is
#: none of an unauthenticated caller's business.
_UNAUTHORIZED: Final = "missing or invalid webhook signature"
_MAX_CACHED: Final = 10_000


class WebhookAck(BaseModel):
    accepted: bool
    webhook_id: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """An integration's verifiers: one per configured secret (several while rotating)."""

    integration_id: uuid.UUID
    resman_property_id: str
    version: datetime
    #: Each with the end of its rotation grace period (None: no end).
    verifiers: tuple[tuple[Webhook, datetime | None], ...]

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when any secret still valid signed ``body``; the library enforces the ±5
        minute window."""
        wanted = {name: headers.get(name, "") for name in _SIGNATURE_HEADERS}
        now = utcnow()
        for verifier, expires_at in self.verifiers:
            if expires_at is not None and now >= expires_at:
                continue  # a rotated-out secret whose grace period is over
            try:
                verifier.verify(body, wanted, json_parse=False)
            # The library lets malformed headers and non-UTF-8 bodies escape as ValueError.
            except (WebhookVerificationError, ValueError):
                continue
            return True
        return False


def _verifiers(
    integration_id: uuid.UUID, credentials: object
) -> tuple[tuple[Webhook, datetime | None], ...]:
    verifiers: list[tuple[Webhook, datetime | None]] = []
    for position, entry in enumerate(read_secrets(credentials), start=1):
        try:
            verifiers.append((Webhook(entry.secret), entry.expires_at))
        except Exception:  # the library raises binascii.Error, its own errors, TypeError...
            log.warning(
                "unusable webhook secret", integration_id=str(integration_id), position=position
            )
    if not verifiers:
        log.warning("integration has no usable webhook secret", integration_id=str(integration_id))
    return tuple(verifiers)


class WebhookSecretCache:
    """Opened webhook secrets per integration, kept until the row's ``updated_at`` changes,
    so a delivery costs one indexed read and no decryption."""

    def __init__(self) -> None:
        self._entries: dict[uuid.UUID, WebhookTarget] = {}

    async def get(
        self, session: AsyncSession, *, integration_id: uuid.UUID, keys: KeyRing
    ) -> WebhookTarget | None:
        row = (
            await session.execute(
                select(
                    ResmanIntegration.updated_at,
                    ResmanIntegration.resman_property_id,
                    ResmanIntegration.api_credentials,
                ).where(ResmanIntegration.id == integration_id)
            )
        ).one_or_none()
        if row is None:
            return None
        entry = self._entries.get(integration_id)
        if entry is not None and entry.version == row.updated_at:
            return entry
        try:
            plain = open_json(row.api_credentials, keys=keys)
        except DecryptionError:
            log.warning("webhook secrets unreadable", integration_id=str(integration_id))
            plain = None
        entry = WebhookTarget(
            integration_id=integration_id,
            resman_property_id=row.resman_property_id,
            version=row.updated_at,
            verifiers=_verifiers(integration_id, plain),
        )
        if len(self._entries) >= _MAX_CACHED:
            self._entries.clear()
        self._entries[integration_id] = entry
        return entry


def _secret_cache(request: Request) -> WebhookSecretCache:
    state = request.app.state
    cache: WebhookSecretCache | None = getattr(state, "webhook_secrets", None)
    if cache is None:
        cache = state.webhook_secrets = WebhookSecretCache()
    return cache


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
        {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Standard Webhooks signature header",
        }
        for name in _SIGNATURE_HEADERS
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
async def lead_update(
    request: Request,
    response: Response,
    integration: Annotated[
        str | None, Query(description="The integration id the webhook URL was registered with.")
    ] = None,
) -> WebhookAck:
    """Verifies the signature with the integration's secrets, stores the delivery in the
    inbox and answers 202; the update is applied by the worker. A redelivery (same
    ``webhook-id``) is acknowledged with 200 and changes nothing."""
    rt = runtime_of(request)
    body = await request.body()
    integration_id = _integration_id(integration)
    if integration_id is None:
        raise _rejected("unknown_integration")
    # A reader: on SQLite a refused delivery must not take the single write lock.
    async with read_session(rt.sessionmaker) as session:
        target = await _secret_cache(request).get(
            session, integration_id=integration_id, keys=rt.keys
        )
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
    async with rt.sessionmaker() as session, session.begin():
        accepted = await accept_delivery(session, integration_id=integration_id, delivery=delivery)
    if accepted.duplicate:
        response.status_code = 200
    else:
        rt.worker.wake()
    return WebhookAck(accepted=True, webhook_id=webhook_id, duplicate=accepted.duplicate)
