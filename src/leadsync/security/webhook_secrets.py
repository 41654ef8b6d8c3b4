"""An integration's webhook signing secrets, as stored in its sealed ``api_credentials``.

``webhook_secrets`` is a list, newest first. An entry is either the secret itself (a plain
string: valid until replaced) or ``{"secret": …, "expires_at": ISO 8601}``: an old secret
kept for a rotation's grace period, so deliveries signed before the sender switched still
verify. Expiry is judged when a delivery is verified, not when the list is read, so a
cached list stops accepting the old secret on time.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

#: Standard Webhooks secrets are ``whsec_`` + base64 of 24 to 64 random bytes.
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
_SECRET_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    secret: str
    #: None: valid until replaced.
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def read_secrets(plain: object) -> list[WebhookSecret]:
    """The entries of decrypted credentials (malformed entries are skipped)."""
    raw = plain.get("webhook_secrets") if isinstance(plain, dict) else None
    found: list[WebhookSecret] = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, str) and entry:
            found.append(WebhookSecret(entry))
        elif isinstance(entry, dict) and isinstance(entry.get("secret"), str):
            try:
                expires = datetime.fromisoformat(str(entry["expires_at"]))
            except (KeyError, ValueError):
                continue
            found.append(WebhookSecret(entry["secret"], expires))
    return found


def stored(entries: list[WebhookSecret]) -> list[Any]:
    """The JSON form of ``entries`` (see the module doc)."""
    return [
        e.secret
        if e.expires_at is None
        else {"secret": e.secret, "expires_at": e.expires_at.isoformat()}
        for e in entries
    ]


def rotated(
    entries: list[WebhookSecret], *, new_secret: str, grace: timedelta, now: datetime
) -> list[WebhookSecret]:
    """``new_secret`` first; every still-active old secret expires after ``grace`` (at once
    for a zero grace; an earlier expiry is kept); expired ones are dropped."""
    until = now + grace
    kept = [
        WebhookSecret(e.secret, until if e.expires_at is None else min(e.expires_at, until))
        for e in entries
        if e.active(now) and e.secret != new_secret
    ]
    return [WebhookSecret(new_secret), *(e for e in kept if e.active(now))]
