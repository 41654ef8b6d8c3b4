"""The secrets that verify an integration's webhook deliveries, opened once per version of
its row (a delivery then costs one indexed read and no decryption)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from leadsync.db.models import ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.errors import DecryptionError
from leadsync.security.crypto import KeyRing, open_json
from leadsync.security.webhook_secrets import read_secrets
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

SIGNATURE_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")
_MAX_CACHED: Final = 10_000
#: Read at every delivery, so built once (see `leadsync.sync.inbound.webhooks`).
_VERSIONED_ROW: Final = select(
    ResmanIntegration.updated_at,
    ResmanIntegration.resman_property_id,
    ResmanIntegration.api_credentials,
).where(ResmanIntegration.id == bindparam("id"))


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
        minute window. The grace end is checked at each delivery, not when the row was
        cached, so a rotated-out secret stops verifying on time."""
        wanted = {name: headers.get(name, "") for name in SIGNATURE_HEADERS}
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
        self,
        session: AsyncSession | AsyncConnection,
        *,
        integration_id: uuid.UUID,
        keys: KeyRing,
    ) -> WebhookTarget | None:
        row = (await session.execute(_VERSIONED_ROW, {"id": integration_id})).one_or_none()
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
