"""Bearer API keys scoped to properties (invariant 6: a key for A never reaches B)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.problems import ProblemError
from leadsync.db.models import ApiKey, ApiKeyProperty
from leadsync.security.apikeys import hash_key, key_matches, parse_prefix

#: A verified key is trusted this long without a database read; revocation takes effect
#: within this window (documented in the README).
CACHE_SECONDS = 30.0
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="leadsync"'}


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: uuid.UUID
    name: str
    property_ids: frozenset[uuid.UUID]

    def require(self, property_id: uuid.UUID, *, field: str = "property_id") -> None:
        if property_id not in self.property_ids:
            raise ProblemError(
                403,
                "Forbidden",
                f"this API key is not allowed to act on property {property_id}",
                errors=[{"field": field, "message": "property outside the API key's scope"}],
            )


class PrincipalCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + CACHE_SECONDS, principal)


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, headers=_UNAUTHORIZED_HEADERS)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise _unauthorized("missing Authorization header (expected: Bearer <api key>)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization must be 'Bearer <api key>'")
    return token.strip()


async def authenticate(
    session: AsyncSession, *, token: str, cache: PrincipalCache | None = None
) -> Principal:
    key_hash = hash_key(token)
    if cache is not None and (hit := cache.get(key_hash)) is not None:
        return hit
    prefix = parse_prefix(token)
    if prefix is None:
        raise _unauthorized("malformed API key")
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None or not key_matches(token, row.hash):
        raise _unauthorized("invalid or revoked API key")
    properties = await session.scalars(
        select(ApiKeyProperty.property_id).where(ApiKeyProperty.api_key_id == row.id)
    )
    principal = Principal(key_id=row.id, name=row.name, property_ids=frozenset(properties))
    if cache is not None:
        cache.put(key_hash, principal)
    return principal
