"""Resolve an integration row into a ready-to-use ResManTarget, cached per process.

Credentials are decrypted once per integration version (the cache key includes
``updated_at``), and the "Chatbot" TransactionSource and lost reasons are looked up once
and kept for an hour: none of this belongs on the per-job hot path.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import ResmanIntegration
from leadsync.merge import MergeRules
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import BusinessError
from leadsync.resman.interface import ResManAPI

LOOKUP_TTL_SECONDS = 3600.0
CHATBOT_SOURCE_NAME = "chatbot"

#: Turns the stored (encrypted) api_credentials into the plain dict.
CredentialOpener = Callable[[dict[str, Any]], dict[str, Any]]
#: Builds (or returns a shared) ResMan client for a base URL.
ClientFactory = Callable[[str], ResManAPI]


class IntegrationNotFoundError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class ResManTarget:
    """An integration resolved for ResMan calls: client, credentials, our TransactionSource,
    lost reasons and merge rules. Pushes, refreshes and retires all use it."""

    integration_id: uuid.UUID
    client: ResManAPI
    creds: ResManCredentials
    #: The "Chatbot" ProspectSources id: the TransactionSource of our events (None when the
    #: property has none: fine for pulls, a permanent error for pushes).
    transaction_source: str | None
    #: Lost reasons by lower-cased name -> (id, name), for Cancel events.
    lost_reasons: dict[str, tuple[str, str]]
    rules: MergeRules = field(default_factory=MergeRules)

    def require_source(self) -> str:
        if self.transaction_source is None:
            # Same verdict ResMan would give for a bad source: the job can never succeed
            # until someone configures the property, so it must not burn retries.
            raise BusinessError(
                "no ProspectSource named 'Chatbot' is configured for the property",
                method="Leasing/GetProspectSources",
                category="transaction_source",
                retryable=False,
            )
        return self.transaction_source


async def integration_of_property(
    session: AsyncSession, *, property_id: uuid.UUID
) -> ResmanIntegration | None:
    """The ResMan integration of a property (a property has at most one)."""
    return await session.scalar(
        select(ResmanIntegration).where(ResmanIntegration.property_id == property_id)
    )


async def integration_ids_of(
    session: AsyncSession, *, property_ids: Iterable[uuid.UUID]
) -> list[uuid.UUID]:
    """The ids of the integrations of these properties (an API key's scope)."""
    rows = await session.scalars(
        select(ResmanIntegration.id).where(ResmanIntegration.property_id.in_(list(property_ids)))
    )
    return list(rows)


@dataclass(slots=True)
class _Entry:
    version: datetime
    target: ResManTarget
    fetched_at: float


def credentials_from(integration: ResmanIntegration, plain: dict[str, Any]) -> ResManCredentials:
    return ResManCredentials(
        partner_id=str(plain["partner_id"]),
        api_key=str(plain["api_key"]),
        account_id=int(plain["account_id"]),
        property_id=integration.resman_property_id,
    )


class TargetCache:
    def __init__(self, *, open_credentials: CredentialOpener, client_for: ClientFactory) -> None:
        self._open = open_credentials
        self._client_for = client_for
        self._entries: dict[uuid.UUID, _Entry] = {}

    def invalidate(self, integration_id: uuid.UUID | None = None) -> None:
        if integration_id is None:
            self._entries.clear()
        else:
            self._entries.pop(integration_id, None)

    async def get(self, session: AsyncSession, *, integration_id: uuid.UUID) -> ResManTarget:
        integration = await session.get(ResmanIntegration, integration_id)
        if integration is None:
            raise IntegrationNotFoundError(str(integration_id))
        entry = self._entries.get(integration_id)
        fresh = entry is not None and time.monotonic() - entry.fetched_at < LOOKUP_TTL_SECONDS
        if entry is not None and fresh and entry.version == integration.updated_at:
            return entry.target
        target = await self._resolve(integration)
        self._entries[integration_id] = _Entry(integration.updated_at, target, time.monotonic())
        return target

    async def _resolve(self, integration: ResmanIntegration) -> ResManTarget:
        plain = self._open(integration.api_credentials)
        creds = credentials_from(integration, plain)
        client = self._client_for(str(plain["base_url"]))
        settings = integration.sync_settings or {}
        source = settings.get("transaction_source_id")
        if not source:
            sources = await client.get_prospect_sources(creds=creds)
            wanted = str(settings.get("transaction_source_name", CHATBOT_SOURCE_NAME)).lower()
            match = next((s for s in sources if s.name.strip().lower() == wanted), None)
            # Missing is only fatal for pushes (see ResManTarget.require_source): a pull-only
            # integration needs no source of its own.
            source = match.id if match is not None else None
        reasons = await client.get_lost_prospect_reasons(creds=creds)
        return ResManTarget(
            integration_id=integration.id,
            client=client,
            creds=creds,
            transaction_source=str(source) if source else None,
            lost_reasons={r.name.strip().lower(): (r.id, r.name) for r in reasons},
            rules=MergeRules.from_settings(integration.conflict_strategy, settings),
        )
