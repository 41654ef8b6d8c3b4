"""API keys of the lead API: created for a set of properties, listed, revoked.

The plaintext key exists only in `create_api_key`'s return value; the database keeps its
prefix and hash (see `leadsync.security.apikeys`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import AdminError, NotFoundError
from leadsync.db.models import ApiKey, ApiKeyProperty, Property
from leadsync.db.types import utcnow
from leadsync.security.apikeys import KEY_PREFIX, generate_api_key

_NAME_MAX_LENGTH = 100


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    """What an operator may see of a key: never the secret or its hash."""

    id: uuid.UUID
    name: str
    prefix: str
    property_ids: tuple[uuid.UUID, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; `hint` is how the key's text starts, to recognise it."""
        return {
            "id": str(self.id),
            "name": self.name,
            "hint": f"{KEY_PREFIX}_{self.prefix}_...",
            "property_ids": [str(p) for p in self.property_ids],
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def view(key: ApiKey, property_ids: Sequence[uuid.UUID]) -> ApiKeyView:
    return ApiKeyView(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        property_ids=tuple(sorted(set(property_ids))),
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


async def create_api_key(
    session: AsyncSession, *, name: str, property_ids: list[uuid.UUID]
) -> tuple[ApiKey, str]:
    """A new key scoped to `property_ids` (each must exist) and its plaintext, shown once."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise AdminError("API key name must not be empty")
    if len(cleaned) > _NAME_MAX_LENGTH:
        raise AdminError(f"API key name must be at most {_NAME_MAX_LENGTH} characters")
    wanted = list(dict.fromkeys(property_ids))  # de-duplicated, order kept for the message
    if not wanted:
        raise AdminError("an API key needs at least one property")
    known = set(await session.scalars(select(Property.id).where(Property.id.in_(wanted))))
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise NotFoundError(f"no property with id {unknown[0]}")
    new = generate_api_key()
    key = ApiKey(id=uuid.uuid4(), name=cleaned, prefix=new.prefix, hash=new.hash)
    session.add(key)
    # The key row first: the scope rows reference it.
    await session.flush()
    session.add_all(ApiKeyProperty(api_key_id=key.id, property_id=p) for p in wanted)
    await session.flush()
    return key, new.plaintext


async def _property_ids(
    session: AsyncSession, key_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    scopes: dict[uuid.UUID, list[uuid.UUID]] = {key_id: [] for key_id in key_ids}
    if not key_ids:
        return scopes
    rows = await session.execute(
        select(ApiKeyProperty.api_key_id, ApiKeyProperty.property_id).where(
            ApiKeyProperty.api_key_id.in_(list(key_ids))
        )
    )
    for key_id, property_id in rows.all():
        scopes[key_id].append(property_id)
    return scopes


async def list_api_keys(session: AsyncSession) -> list[ApiKeyView]:
    """Every key, revoked ones included (oldest first), with the properties it reaches."""
    keys = list(
        (await session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id))).all()
    )
    scopes = await _property_ids(session, [k.id for k in keys])
    return [view(k, scopes[k.id]) for k in keys]


async def revoke_api_key(session: AsyncSession, *, key_id: uuid.UUID) -> ApiKeyView:
    """Revoke a key for good. Revoking twice keeps the first revocation time.

    Servers trust a verified key for a short while (`leadsync.api.auth.CACHE_SECONDS`),
    so a revocation takes effect within that window, not instantly.
    """
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError(f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    scopes = await _property_ids(session, [key.id])
    return view(key, scopes[key.id])
