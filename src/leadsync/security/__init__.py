"""Secrets at rest: encryption keys and the encrypted envelope of stored credentials."""

from leadsync.security.crypto import (
    KeyRing,
    decrypt_json,
    encrypt_json,
    generate_key,
    load_keys,
    needs_rotation,
    open_json,
    reseal_json,
    rotate,
    seal_json,
)

__all__ = [
    "KeyRing",
    "decrypt_json",
    "encrypt_json",
    "generate_key",
    "load_keys",
    "needs_rotation",
    "open_json",
    "reseal_json",
    "rotate",
    "seal_json",
]
