"""Resolve an integration row into a ready-to-use ResManTarget, cached per process.

Credentials are decrypted once per integration version (the cache key includes
``updated_at``). The look-ups (the "Chatbot" TransactionSource from GetProspectSources, the
lost reasons from GetLostProspectReasons) are fetched only by the callers that need them,
once per integration and ``LOOKUP_TTL_SECONDS`` (one fetch at a time per integration), and
a failed refresh keeps serving the previous answer. Pushes need both; pulls and webhook
refreshes need only the source id, to recognise our own events, and do without it (and
without failing) when ResMan cannot say.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import ResmanIntegration
from leadsync.merge import MergeRules
from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import BusinessError, ResManError
from leadsync.resman.interface import ResManAPI
from leadsync.telemetry.logging import get_logger

log = get_logger(__name__)

LOOKUP_TTL_SECONDS = 3600.0
CHATBOT_SOURCE_NAME = "chatbot"

#: Turns the stored (encrypted) api_credentials into the plain dict.
CredentialOpener = Callable[[dict[str, Any]], dict[str, Any]]
#: Builds (or returns a shared) ResMan client for a base URL.
ClientFactory = Callable[[str], ResManAPI]
#: "push": the source and the lost reasons, a failure raises. "pull": the source only, best
#: effort (None when ResMan cannot say and nothing is cached); no lost reasons.
Needs = Literal["push", "pull"]


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
class _Lookup:
    version: datetime
    value: Any
    fetched_at: float

    def fresh(self, version: datetime) -> bool:
        recent = time.monotonic() - self.fetched_at < LOOKUP_TTL_SECONDS
        return recent and self.version == version


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
        self._bases: dict[uuid.UUID, tuple[datetime, ResManTarget]] = {}
        self._lookups: dict[tuple[uuid.UUID, str], _Lookup] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def invalidate(self, integration_id: uuid.UUID | None = None) -> None:
        if integration_id is None:
            self._bases.clear()
            self._lookups.clear()
        else:
            self._bases.pop(integration_id, None)
            for key in [k for k in self._lookups if k[0] == integration_id]:
                del self._lookups[key]

    async def get(
        self, session: AsyncSession, *, integration_id: uuid.UUID, needs: Needs = "push"
    ) -> ResManTarget:
        integration = await session.get(ResmanIntegration, integration_id)
        if integration is None:
            raise IntegrationNotFoundError(str(integration_id))
        version = integration.updated_at
        cached = self._bases.get(integration_id)
        if cached is None or cached[0] != version:
            cached = (version, self._base(integration))
            self._bases[integration_id] = cached
        base = cached[1]
        settings = integration.sync_settings or {}
        lock = self._locks.setdefault(integration_id, asyncio.Lock())
        async with lock:  # one fetch per integration, however many jobs wait for it
            source = await self._source(base, settings, version, required=needs == "push")
            reasons: dict[str, tuple[str, str]] = {}
            if needs == "push":
                reasons = await self._lookup(
                    base, "lost_reasons", version, lambda: self._fetch_reasons(base)
                )
        return ResManTarget(
            integration_id=base.integration_id,
            client=base.client,
            creds=base.creds,
            transaction_source=source,
            lost_reasons=reasons,
            rules=base.rules,
        )

    def _base(self, integration: ResmanIntegration) -> ResManTarget:
        plain = self._open(integration.api_credentials)
        return ResManTarget(
            integration_id=integration.id,
            client=self._client_for(str(plain["base_url"])),
            creds=credentials_from(integration, plain),
            transaction_source=None,
            lost_reasons={},
            rules=MergeRules.from_settings(
                integration.conflict_strategy, integration.sync_settings or {}
            ),
        )

    async def _source(
        self, base: ResManTarget, settings: dict[str, Any], version: datetime, *, required: bool
    ) -> str | None:
        if configured := settings.get("transaction_source_id"):
            return str(configured)
        wanted = str(settings.get("transaction_source_name", CHATBOT_SOURCE_NAME)).lower()
        try:
            found: str | None = await self._lookup(
                base, "source", version, lambda: self._fetch_source(base, wanted)
            )
        except ResManError as exc:
            if required:
                raise
            log.warning(
                "TransactionSource look-up failed; going on without it",
                integration_id=str(base.integration_id),
                error=type(exc).__name__,
            )
            return None
        # Missing is only fatal for pushes (see ResManTarget.require_source): a pull-only
        # integration needs no source of its own.
        return found

    async def _lookup(
        self, base: ResManTarget, name: str, version: datetime, fetch: Callable[[], Awaitable[Any]]
    ) -> Any:
        key = (base.integration_id, name)
        entry = self._lookups.get(key)
        if entry is not None and entry.fresh(version):
            return entry.value
        try:
            value = await fetch()
        except ResManError:
            if entry is not None and entry.version == version:
                return entry.value  # stale beats failing: the look-ups rarely change
            raise
        self._lookups[key] = _Lookup(version, value, time.monotonic())
        return value

    async def _fetch_source(self, base: ResManTarget, wanted: str) -> str | None:
        sources = await base.client.get_prospect_sources(creds=base.creds)
        match = next((s for s in sources if s.name.strip().lower() == wanted), None)
        return str(match.id) if match is not None and match.id else None

    async def _fetch_reasons(self, base: ResManTarget) -> dict[str, tuple[str, str]]:
        reasons = await base.client.get_lost_prospect_reasons(creds=base.creds)
        return {r.name.strip().lower(): (r.id, r.name) for r in reasons}
