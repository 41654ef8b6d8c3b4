"""Fixing an integration in place: `leadsync integration update` and webhook secret rotation.

An office fixes what broke without re-adding the integration (which would lose its cursor,
links and queue): new credentials, base URL, ResMan property, TransactionSource or rules.
Every change bumps ``updated_at``, which versions every process's cached copy (the push
target, the webhook secrets), so workers pick it up on their next job.

Jobs waiting because ResMan refused the old credentials resume at once when credentials
change: the integration's circuit is closed and those jobs are due now. Dead letters that
only died for a missing TransactionSource are replayed when the source is changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import AdminError
from leadsync.admin.integrations import (
    Verifier,
    base_url_field,
    configure,
    credentials_from_plain,
    get_integration,
    open_credentials,
    text_field,
    webhook_secret_field,
)
from leadsync.admin.queue import replay_dead
from leadsync.db.models import LeadSyncQueue, ResmanIntegration
from leadsync.db.types import utcnow
from leadsync.security.crypto import KeyRing, seal_json
from leadsync.security.webhook_secrets import (
    generate_secret,
    read_secrets,
    rotated,
    stored,
)

#: Jobs in these error categories wait on the credentials (see sync.failures.classify).
AUTH_CATEGORY: Final = "authentication"
#: Dead letters in this category died only for want of a TransactionSource.
SOURCE_CATEGORY: Final = "transaction_source"
MAX_GRACE: Final = timedelta(days=30)
_CREDENTIAL_FIELDS: Final = ("base_url", "account_id", "partner_id", "api_key")


@dataclass(frozen=True, slots=True)
class Updated:
    integration: ResmanIntegration
    #: What changed, by name (never a value).
    changed: tuple[str, ...]
    #: Jobs made due now (waiting on refused credentials) or replayed (dead for the source).
    resumed: int


@dataclass(frozen=True, slots=True)
class CredentialChange:
    base_url: str | None = None
    account_id: int | None = None
    partner_id: str | None = None
    api_key: str | None = None
    resman_property_id: str | None = None
    #: Replaces every stored webhook secret at once (a rotation with grace: rotate_secret).
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class RuleChange:
    conflict_strategy: str | None = None
    field_rules: dict[str, str] | None = None
    status_by_priority: bool | None = None
    transaction_source_id: str | None = None


def _new_credentials(plain: dict[str, Any], change: CredentialChange) -> dict[str, Any]:
    merged = dict(plain)
    if change.base_url is not None:
        merged["base_url"] = base_url_field(change.base_url)
    if change.account_id is not None:
        if isinstance(change.account_id, bool) or change.account_id <= 0:
            raise AdminError("account_id must be a positive whole number")
        merged["account_id"] = change.account_id
    if change.partner_id is not None:
        merged["partner_id"] = text_field(change.partner_id, field="partner_id", max_length=200)
    if change.api_key is not None:
        merged["api_key"] = text_field(change.api_key, field="api_key", max_length=500)
    if change.webhook_secret is not None:
        merged["webhook_secrets"] = [webhook_secret_field(change.webhook_secret)]
    return merged


async def _resume_waiting(
    session: AsyncSession, *, integration_id: uuid.UUID, category: str
) -> int:
    """Queued jobs of the integration waiting after a failure of ``category``: due now, and
    dead letters of that category replayed with fresh retries."""
    q = LeadSyncQueue
    now = utcnow()
    waiting = await session.execute(
        update(q)
        .where(
            q.integration_id == integration_id, q.state == "queued", q.error_category == category
        )
        .values(next_retry_at=now, updated_at=now)
        .returning(q.id)
    )
    count = len(waiting.all())
    dead = list(
        await session.scalars(
            select(q.id).where(
                q.integration_id == integration_id, q.state == "dead", q.error_category == category
            )
        )
    )
    return count + (len(await replay_dead(session, job_ids=dead)) if dead else 0)


async def update_integration(
    session: AsyncSession,
    *,
    keys: KeyRing,
    integration_id: uuid.UUID,
    credentials: CredentialChange = CredentialChange(),
    rules: RuleChange = RuleChange(),
    verify: Verifier | None = None,
) -> Updated:
    """Change credentials, base URL, ResMan property, TransactionSource and conflict rules.

    Everything is validated (and, with ``verify``, the resulting credentials accepted by a
    real ResMan call) before the first write, so a refused update writes nothing.
    """
    integration = await get_integration(session, integration_id=integration_id)
    plain = open_credentials(integration, keys)
    if plain is None:
        raise AdminError(
            "the stored credentials cannot be decrypted with the configured keys; "
            "remove and add the integration again"
        )
    merged = _new_credentials(plain, credentials)
    property_id = integration.resman_property_id
    if credentials.resman_property_id is not None:
        property_id = text_field(
            credentials.resman_property_id, field="resman_property_id", max_length=100
        )
    changed = [name for name in _CREDENTIAL_FIELDS if merged.get(name) != plain.get(name)]
    if property_id != integration.resman_property_id:
        changed.append("resman_property_id")
    if merged.get("webhook_secrets") != plain.get("webhook_secrets"):
        changed.append("webhook_secrets")
    if verify is not None:
        await verify(str(merged["base_url"]), credentials_from_plain(merged, property_id))
    source_before = (integration.sync_settings or {}).get("transaction_source_id")
    # configure validates the rules through the merge's own parser before it writes.
    await configure(
        session,
        integration_id=integration_id,
        conflict_strategy=rules.conflict_strategy,
        field_rules=rules.field_rules,
        status_by_priority=rules.status_by_priority,
        transaction_source_id=rules.transaction_source_id,
    )
    if rules != RuleChange():
        changed.append("rules")
    integration.api_credentials = seal_json(merged, keys=keys)
    integration.resman_property_id = property_id
    integration.updated_at = utcnow()
    resumed = 0
    if set(changed) & {*_CREDENTIAL_FIELDS, "resman_property_id"}:
        # The refusal that paused the integration was about the old credentials.
        integration.circuit_open_until = None
        resumed += await _resume_waiting(
            session, integration_id=integration_id, category=AUTH_CATEGORY
        )
    source_after = (integration.sync_settings or {}).get("transaction_source_id")
    if source_after != source_before or "resman_property_id" in changed:
        resumed += await _resume_waiting(
            session, integration_id=integration_id, category=SOURCE_CATEGORY
        )
    await session.flush()
    return Updated(integration, tuple(changed), resumed)


@dataclass(frozen=True, slots=True)
class Rotated:
    integration: ResmanIntegration
    #: The new secret, shown once so the operator can give it to the sender.
    secret: str
    #: Old secrets still accepted, and until when.
    grace_until: str | None
    previous: int


async def rotate_webhook_secret(
    session: AsyncSession,
    *,
    keys: KeyRing,
    integration_id: uuid.UUID,
    grace: timedelta,
    new_secret: str | None = None,
) -> Rotated:
    """A new signing secret (generated unless given); the old ones still verify for
    ``grace`` (0: refused at once), so deliveries signed before the sender switched are not
    lost."""
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise AdminError(f"grace must be between 0 and {MAX_GRACE.days} days")
    secret = webhook_secret_field(new_secret) if new_secret is not None else generate_secret()
    integration = await get_integration(session, integration_id=integration_id)
    plain = open_credentials(integration, keys)
    if plain is None:
        raise AdminError("the stored credentials cannot be decrypted with the configured keys")
    now = utcnow()
    entries = rotated(read_secrets(plain), new_secret=secret, grace=grace, now=now)
    integration.api_credentials = seal_json(
        {**plain, "webhook_secrets": stored(entries)}, keys=keys
    )
    integration.updated_at = now
    await session.flush()
    old = entries[1:]
    until = max((e.expires_at for e in old if e.expires_at is not None), default=None)
    return Rotated(integration, secret, until.isoformat() if until else None, len(old))
