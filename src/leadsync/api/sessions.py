"""Dashboard sign-in: a session cookie standing for an API key, and its CSRF token.

The cookie is a Fernet token (encrypted and authenticated with the service's encryption keys,
which every instance shares) holding the key's id and a random nonce; it never holds the key
itself. Each request loads the key again, so a revoked key ends its sessions at once. The
nonce is the session's CSRF token: a page embeds it in its forms, and another site can
neither read the cookie (HttpOnly, SameSite=Strict) nor guess the nonce.
"""

from __future__ import annotations

import hmac
import json
import secrets
import uuid
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.api.auth import Principal, authenticate
from leadsync.db.models import ApiKey, ApiKeyProperty
from leadsync.security.crypto import KeyRing

COOKIE = "leadsync_session"
#: A session lasts a working day; signing in again is cheap.
MAX_AGE_SECONDS = 8 * 3600


@dataclass(frozen=True, slots=True)
class WebSession:
    key_id: uuid.UUID
    csrf: str


def issue(*, keys: KeyRing, key_id: uuid.UUID) -> tuple[str, WebSession]:
    """A new session for ``key_id``: the cookie value and what it stands for."""
    session = WebSession(key_id=key_id, csrf=secrets.token_urlsafe(32))
    payload = json.dumps({"k": str(key_id), "n": session.csrf}).encode()
    return keys.encrypt(payload).decode("ascii"), session


def read(*, keys: KeyRing, cookie: str | None) -> WebSession | None:
    """The session a cookie stands for; None when absent, forged, tampered with or expired."""
    if not cookie:
        return None
    try:
        payload = json.loads(keys.decrypt(cookie.encode("ascii"), ttl=MAX_AGE_SECONDS))
        return WebSession(key_id=uuid.UUID(payload["k"]), csrf=str(payload["n"]))
    except (InvalidToken, ValueError, KeyError, TypeError, UnicodeEncodeError):
        return None


def csrf_ok(session: WebSession, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf.encode(), token.encode())


async def principal_of(db: AsyncSession, *, session: WebSession) -> Principal | None:
    """The key's principal, scoped exactly as its Bearer use is; None once revoked."""
    row = await db.get(ApiKey, session.key_id)
    if row is None or row.revoked_at is not None:
        return None
    properties = await db.scalars(
        select(ApiKeyProperty.property_id).where(ApiKeyProperty.api_key_id == row.id)
    )
    return Principal(key_id=row.id, name=row.name, property_ids=frozenset(properties))


async def sign_in(db: AsyncSession, *, keys: KeyRing, api_key: str) -> tuple[str, Principal]:
    """Check an API key as the API does (ProblemError 401 when it is not valid) and open a
    session for it: the cookie value and the principal."""
    principal = await authenticate(db, token=api_key.strip())
    cookie, _ = issue(keys=keys, key_id=principal.key_id)
    return cookie, principal
