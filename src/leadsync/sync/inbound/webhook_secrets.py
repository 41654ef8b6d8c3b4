"""The secrets that verify an integration's webhook deliveries, opened once per version of
its row (a delivery then costs a share of one indexed read and no decryption)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook, WebhookVerificationError

from leadsync.db.grouped import Grouped
from leadsync.db.models import ResmanIntegration
from leadsync.db.session import read_connection
from leadsync.db.types import utcnow
from leadsync.errors import DecryptionError
from leadsync.security.crypto import KeyRing, open_json
from leadsync.security.webhook_secrets import read_secrets
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

SIGNATURE_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")
_MAX_CACHED: Final = 10_000
#: Read at every group of deliveries, so built once (see `leadsync.sync.inbound.inbox`).
_VERSIONED_ROWS: Final = select(
    ResmanIntegration.id,
    ResmanIntegration.updated_at,
    ResmanIntegration.resman_property_id,
    ResmanIntegration.api_credentials,
).where(ResmanIntegration.id.in_(bindparam("ids", expanding=True)))


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
    so a delivery costs no decryption. The version is read anew for every delivery, the
    deliveries that arrive together sharing one read (`leadsync.db.grouped`): each still
    sees a read that began after it arrived, so a replaced secret is refused at once."""

    def __init__(self, *, engine: AsyncEngine, keys: KeyRing, max_group: int = 64) -> None:
        self._engine = engine
        self._keys = keys
        self._entries: dict[uuid.UUID, WebhookTarget] = {}
        self._grouped: Grouped[uuid.UUID, WebhookTarget | None] = Grouped(
            self._read, max_group=max_group
        )

    @property
    def reads(self) -> int:
        """Reads of the integration table so far (one per group of deliveries)."""
        return self._grouped.groups

    async def get(self, *, integration_id: uuid.UUID) -> WebhookTarget | None:
        """The integration's verifiers as its row now stands; None for no such row."""
        return await self._grouped.run(integration_id)

    async def _read(self, ids: Sequence[uuid.UUID]) -> list[WebhookTarget | None]:
        # A reader: on SQLite a refused delivery must not take the single write lock.
        async with read_connection(self._engine) as conn:
            rows = {
                row.id: row
                for row in await conn.execute(_VERSIONED_ROWS, {"ids": sorted(set(ids))})
            }
        return [self._target(integration_id, rows.get(integration_id)) for integration_id in ids]

    def _target(self, integration_id: uuid.UUID, row: Row[Any] | None) -> WebhookTarget | None:
        if row is None:
            return None
        entry = self._entries.get(integration_id)
        if entry is not None and entry.version == row.updated_at:
            return entry
        try:
            plain = open_json(row.api_credentials, keys=self._keys)
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
