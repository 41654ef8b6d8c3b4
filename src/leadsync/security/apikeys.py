"""API keys: random, shown once, stored as a SHA-256 hash and looked up by a short prefix.

SHA-256 (not bcrypt/argon2) is right here: the secret is 256 random bits, so there is
nothing to brute-force, and a fast hash keeps authentication off the hot path's budget.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "lsk"
PREFIX_CHARS = 8


@dataclass(frozen=True, slots=True)
class NewApiKey:
    #: The full key, shown to the operator once and never stored.
    plaintext: str
    prefix: str
    hash: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    prefix = secrets.token_hex(PREFIX_CHARS // 2)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(plaintext=plaintext, prefix=prefix, hash=hash_key(plaintext))


def parse_prefix(plaintext: str) -> str | None:
    """The lookup prefix of a well-formed key, or None for anything else."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != PREFIX_CHARS:
        return None
    return parts[1]


def key_matches(plaintext: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), stored_hash)
