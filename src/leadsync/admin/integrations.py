"""Properties and their ResMan integrations, as an operator sets them up.

Credentials (partner id, API key, webhook secrets, and with them the account and base URL) go
into `api_credentials` only as a sealed envelope: no plain column holds anything secret.
"""

from __future__ import annotations

import base64
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from leadsync.admin import AdminError, NotFoundError
from leadsync.db.models import Property, ResmanIntegration
from leadsync.db.models.domiq import DEFAULT_TIMEZONE
from leadsync.db.types import utcnow
from leadsync.db.vocab import CONFLICT_STRATEGIES, INTEGRATION_SYNC_DIRECTIONS
from leadsync.errors import DecryptionError
from leadsync.mapping.transcript import TRANSCRIPT_MODES
from leadsync.merge import MergeRules
from leadsync.resman.credentials import ResManCredentials
from leadsync.security.crypto import KeyRing, open_json, seal_json
from leadsync.security.webhook_secrets import read_secrets

#: Below this length even two revealed characters are a real share of the secret.
_MASK_REVEAL_MIN_LENGTH: Final = 8
_MASK: Final = "***"

#: A real ResMan call that must accept the credentials (see admin.verify); it raises
#: AdminError when they are refused.
Verifier = Callable[[str, ResManCredentials], Awaitable[None]]


# --- validation --------------------------------------------------------------------------
def text_field(value: str | None, *, field: str, max_length: int) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise AdminError(f"{field} must not be empty")
    if len(cleaned) > max_length:
        raise AdminError(f"{field} must be at most {max_length} characters")
    return cleaned


def one_of_field(value: str, *, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise AdminError(f"{field} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def base_url_field(value: str) -> str:
    cleaned = (value or "").strip()
    try:
        parts = urlsplit(cleaned)
        host = parts.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise AdminError("base_url must be an absolute http(s) URL, e.g. https://api.myresman.com")
    if parts.username is not None or parts.password is not None:
        # It would be shown in plain by `describe`; credentials have their own options.
        raise AdminError("base_url must not contain a user name or password")
    return cleaned.rstrip("/")


def webhook_secret_field(value: str) -> str:
    secret = text_field(value, field="webhook_secret", max_length=500)
    try:
        # Strictly base64 (the library itself decodes leniently: "hunter2" would pass).
        if not base64.b64decode(secret.removeprefix("whsec_"), validate=True):
            raise ValueError("empty")
        Webhook(secret)
    except Exception:  # binascii.Error, the library's own errors, TypeError...
        raise AdminError(
            "webhook_secret is not a Standard Webhooks secret (whsec_ followed by base64)"
        ) from None
    return secret


def credentials_from_plain(plain: dict[str, Any], resman_property_id: str) -> ResManCredentials:
    return ResManCredentials(
        partner_id=str(plain["partner_id"]),
        api_key=str(plain["api_key"]),
        account_id=int(plain["account_id"]),
        property_id=resman_property_id,
    )


def _timezone(value: str) -> str:
    name = text_field(value, field="timezone", max_length=64)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # A host without any time zone database cannot judge; refusing every name there
        # (the default included) would help nobody.
        if zoneinfo.available_timezones():
            raise AdminError(f"unknown time zone {name!r} (expected an IANA name)") from None
    return name


# --- properties --------------------------------------------------------------------------
async def create_property(
    session: AsyncSession,
    *,
    name: str,
    property_id: uuid.UUID | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Property:
    """The property `property_id`, created when it does not exist yet (idempotent)."""
    if property_id is not None:
        existing = await session.get(Property, property_id)
        if existing is not None:
            return existing
    prop = Property(
        id=property_id or uuid.uuid4(),
        name=text_field(name, field="property name", max_length=200),
        timezone=_timezone(timezone),
    )
    try:
        # A savepoint, so that losing a race to a concurrent create of the same id leaves the
        # caller's transaction usable and we can return the winner's row.
        async with session.begin_nested():
            session.add(prop)
    except IntegrityError:
        if property_id is not None and (won := await session.get(Property, property_id)):
            return won
        raise
    return prop


# --- integrations ------------------------------------------------------------------------
async def _integration_of(session: AsyncSession, property_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(
        select(ResmanIntegration.id).where(ResmanIntegration.property_id == property_id)
    )


def _duplicate(property_id: uuid.UUID, existing: uuid.UUID) -> AdminError:
    return AdminError(
        f"property {property_id} already has a ResMan integration ({existing}); "
        "one integration per property"
    )


async def add_integration(
    session: AsyncSession,
    *,
    keys: KeyRing,
    property_id: uuid.UUID,
    resman_base_url: str,
    account_id: int,
    resman_property_id: str,
    partner_id: str,
    api_key: str,
    webhook_secret: str | None,
    property_name: str | None = None,
    sync_direction: str = "bidirectional",
    conflict_strategy: str = "manual_review",
    verify: Verifier | None = None,
) -> ResmanIntegration:
    """Connect `property_id` (created if missing) to a ResMan property; enqueues nothing.
    With `verify`, the credentials must pass a real ResMan call before anything is written."""
    if isinstance(account_id, bool) or not isinstance(account_id, int) or account_id <= 0:
        raise AdminError("account_id must be a positive whole number")
    credentials: dict[str, Any] = {
        "base_url": base_url_field(resman_base_url),
        "account_id": account_id,
        "partner_id": text_field(partner_id, field="partner_id", max_length=200),
        "api_key": text_field(api_key, field="api_key", max_length=500),
        "webhook_secrets": (
            [webhook_secret_field(webhook_secret)] if webhook_secret is not None else []
        ),
    }
    integration = ResmanIntegration(
        id=uuid.uuid4(),
        property_id=property_id,
        resman_property_id=text_field(
            resman_property_id, field="resman_property_id", max_length=100
        ),
        api_credentials=seal_json(credentials, keys=keys),
        sync_direction=one_of_field(
            sync_direction, field="sync_direction", allowed=INTEGRATION_SYNC_DIRECTIONS
        ),
        conflict_strategy=one_of_field(
            conflict_strategy, field="conflict_strategy", allowed=CONFLICT_STRATEGIES
        ),
    )
    if verify is not None:
        creds = credentials_from_plain(credentials, integration.resman_property_id)
        await verify(credentials["base_url"], creds)
    # Everything is validated before the first write, so a refused request writes nothing.
    await create_property(
        session, property_id=property_id, name=property_name or f"Property {property_id}"
    )
    if (existing := await _integration_of(session, property_id)) is not None:
        raise _duplicate(property_id, existing)
    try:
        # A savepoint: losing a race to a concurrent add must leave the caller's transaction
        # usable, and the unique constraint is what decides that race.
        async with session.begin_nested():
            session.add(integration)
    except IntegrityError:
        if (existing := await _integration_of(session, property_id)) is not None:
            raise _duplicate(property_id, existing) from None
        raise
    return integration


async def list_integrations(session: AsyncSession) -> list[ResmanIntegration]:
    stmt = select(ResmanIntegration).order_by(ResmanIntegration.created_at, ResmanIntegration.id)
    return list((await session.scalars(stmt)).all())


async def get_integration(session: AsyncSession, *, integration_id: uuid.UUID) -> ResmanIntegration:
    integration = await session.get(ResmanIntegration, integration_id)
    if integration is None:
        raise NotFoundError(f"no integration with id {integration_id}")
    return integration


async def set_enabled(
    session: AsyncSession, *, integration_id: uuid.UUID, enabled: bool
) -> ResmanIntegration:
    """Turn syncing of one integration on or off; its queued jobs wait while it is off."""
    integration = await get_integration(session, integration_id=integration_id)
    integration.sync_enabled = enabled
    await session.flush()
    return integration


async def configure(
    session: AsyncSession,
    *,
    integration_id: uuid.UUID,
    conflict_strategy: str | None = None,
    field_rules: dict[str, str] | None = None,
    status_by_priority: bool | None = None,
    feed: bool | None = None,
    feed_url: str | None = None,
    transaction_source_id: str | None = None,
    transcript: str | None = None,
) -> ResmanIntegration:
    """Change the integration's sync rules (data, not code). Everything is validated first,
    through the same parser the merge uses, so a refused change writes nothing."""
    integration = await get_integration(session, integration_id=integration_id)
    settings = dict(integration.sync_settings or {})
    if field_rules is not None:
        settings["field_rules"] = {**settings.get("field_rules", {}), **field_rules}
    if status_by_priority is not None:
        settings["status_by_priority"] = status_by_priority
    if feed is not None:
        settings["feed"] = feed
    if feed_url is not None:
        if not feed_url.startswith(("ws://", "wss://", "http://", "https://")):
            raise AdminError("feed_url must be a ws://, wss://, http:// or https:// URL")
        settings["feed_url"] = feed_url
    if transaction_source_id is not None:
        settings["transaction_source_id"] = text_field(
            transaction_source_id, field="transaction_source_id", max_length=100
        )
    if transcript is not None:
        if transcript not in TRANSCRIPT_MODES:
            raise AdminError(f"transcript must be one of: {', '.join(TRANSCRIPT_MODES)}")
        settings["transcript"] = transcript
    strategy = conflict_strategy or integration.conflict_strategy
    try:
        MergeRules.from_settings(strategy, settings)
    except ValueError as exc:
        raise AdminError(str(exc)) from exc
    integration.conflict_strategy = strategy
    integration.sync_settings = settings
    integration.updated_at = utcnow()
    await session.flush()
    return integration


# --- presentation ------------------------------------------------------------------------
def mask(secret: str) -> str:
    """'***' plus at most the last two characters, enough to tell two keys apart."""
    if len(secret) < _MASK_REVEAL_MIN_LENGTH:
        return _MASK
    return _MASK + secret[-2:]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def open_credentials(integration: ResmanIntegration, keys: KeyRing) -> dict[str, Any] | None:
    try:
        plain = open_json(integration.api_credentials, keys=keys)
    except DecryptionError:
        return None
    return plain if isinstance(plain, dict) else None


def _get(plain: dict[str, Any] | None, key: str, convert: Callable[[Any], Any]) -> Any:
    if plain is None or plain.get(key) is None:
        return None
    return convert(plain[key])


def describe(integration: ResmanIntegration, *, keys: KeyRing) -> dict[str, Any]:
    """A JSON-safe summary with the secrets masked.

    Credentials no configured key opens (a key was removed) are reported as unreadable
    instead of failing: the operator listing integrations is the one who must notice.
    """
    plain = open_credentials(integration, keys)
    now = utcnow()
    active = [e for e in read_secrets(plain) if e.active(now)]
    return {
        "id": str(integration.id),
        "property_id": str(integration.property_id),
        "resman_property_id": integration.resman_property_id,
        "base_url": _get(plain, "base_url", str),
        "account_id": _get(plain, "account_id", int),
        "partner_id": _get(plain, "partner_id", lambda v: mask(str(v))),
        "api_key": _get(plain, "api_key", lambda v: mask(str(v))),
        # Counts only: the secrets themselves are never shown again after they are set.
        "webhook_secrets": len(active),
        "webhook_secrets_expire_at": sorted(
            e.expires_at.isoformat() for e in active if e.expires_at is not None
        ),
        "credentials_readable": plain is not None,
        "sync_enabled": integration.sync_enabled,
        "sync_direction": integration.sync_direction,
        "conflict_strategy": integration.conflict_strategy,
        "sync_settings": dict(integration.sync_settings or {}),
        "last_sync_at": _iso(integration.last_sync_at),
        "circuit_open_until": _iso(integration.circuit_open_until),
        "created_at": _iso(integration.created_at),
    }
