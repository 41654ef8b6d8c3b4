"""Encryption at rest for secrets in the database (`resman_integration.api_credentials`).

Fernet (AES-128-CBC + HMAC-SHA256, authenticated) with several keys for rotation: the first
key encrypts, every key decrypts, and `rotate` re-encrypts under the first key.

Where keys come from:
- `LEADSYNC_ENCRYPTION_KEYS` (comma-separated) always wins.
- Otherwise, on the embedded SQLite default, a key is generated once into
  `<data_dir>/encryption.key` (owner-only) and reused: secrets are still never stored in
  plaintext, and a new user has nothing to configure.
- Otherwise (PostgreSQL) start-up fails with `ConfigurationError`. A server database is shared
  by several machines, which must all hold the same key, so it has to come from the
  environment; there is no plaintext fallback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from leadsync.config import Settings
from leadsync.db.engine import backend_name
from leadsync.errors import ConfigurationError, DecryptionError

KEY_FILE_NAME: Final = "encryption.key"
ENVELOPE_ALG: Final = "fernet"
_KEYS_SETTING: Final = "LEADSYNC_ENCRYPTION_KEYS"
_DECRYPT_FAILED: Final = (
    "stored secret could not be decrypted with any configured key "
    f"({_KEYS_SETTING} or {KEY_FILE_NAME}); was its key removed or replaced?"
)


class KeyRing(MultiFernet):
    """A MultiFernet that also knows a short, non-secret id of each of its keys."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        super().__init__(Fernet(key) for key in keys)
        #: Ids of the keys, the encrypting (primary) one first.
        self.key_ids: tuple[str, ...] = tuple(key_id(key) for key in keys)

    @property
    def primary_key_id(self) -> str:
        return self.key_ids[0]


def key_id(key: bytes) -> str:
    """A fingerprint naming a key in envelopes (a truncated hash reveals nothing of it)."""
    return hashlib.sha256(key).hexdigest()[:12]


def generate_key() -> str:
    """A new random Fernet key, as text for `LEADSYNC_ENCRYPTION_KEYS`."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, *, source: str) -> KeyRing:
    """Comma-separated Fernet keys -> KeyRing; a bad entry is named by position, not shown."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    if not entries:
        raise ConfigurationError(f"{source} holds no encryption key")
    keys: list[bytes] = []
    for position, entry in enumerate(entries, start=1):
        try:
            Fernet(entry)
        except ValueError:  # binascii.Error is a ValueError too
            raise ConfigurationError(
                f"{source}: key #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None
        keys.append(entry.encode("ascii"))
    return KeyRing(keys)


def load_keys(*, settings: Settings) -> KeyRing:
    """The keys for `settings` (see the module docstring for where they come from)."""
    configured = settings.encryption_keys
    if configured is not None and configured.get_secret_value().strip():
        return parse_keys(configured.get_secret_value(), source=_KEYS_SETTING)
    if backend_name(settings.effective_database_url) != "sqlite":
        raise ConfigurationError(
            f"{_KEYS_SETTING} must be set when the database is PostgreSQL: every instance "
            "needs the same key to read the stored ResMan credentials. Create one with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        )
    path = _embedded_key_file(Path(settings.data_dir))
    return parse_keys(path.read_text(encoding="ascii"), source=str(path))


def _embedded_key_file(data_dir: Path) -> Path:
    """`data_dir/encryption.key`, created on first use with owner-only permissions."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return path
    # Write a private temp file, then hard-link it into place: the link is atomic and fails
    # if another process got there first, so concurrent first starts agree on one key and
    # nobody ever reads a half-written file.
    temp = data_dir / f".{KEY_FILE_NAME}.{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def encrypt_json(obj: Any, *, keys: MultiFernet) -> str:
    """`obj` as JSON, encrypted under the primary key; returns the Fernet token."""
    plaintext = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return keys.encrypt(plaintext).decode("ascii")


def decrypt_json(token: str, *, keys: MultiFernet) -> Any:
    """The object `encrypt_json` encrypted; DecryptionError when no key opens the token."""
    try:
        plaintext = keys.decrypt(token)
    except InvalidToken:
        raise DecryptionError(_DECRYPT_FAILED) from None
    return json.loads(plaintext)


def rotate(token: str, *, keys: MultiFernet) -> str:
    """The same token re-encrypted under the primary key (MultiFernet.rotate)."""
    try:
        return keys.rotate(token).decode("ascii")
    except InvalidToken:
        raise DecryptionError(_DECRYPT_FAILED) from None


# --- the envelope stored in JSON columns -------------------------------------------------
# {"alg": "fernet", "key_id": "<12 hex>", "ciphertext": "<token>"}: JSON so the spec's JSONB
# column type stays; the key id lets a rotation job find the rows still under an old key.


def seal_json(obj: Any, *, keys: KeyRing) -> dict[str, str]:
    """The envelope to store for `obj`."""
    return {
        "alg": ENVELOPE_ALG,
        "key_id": keys.primary_key_id,
        "ciphertext": encrypt_json(obj, keys=keys),
    }


def open_json(envelope: Mapping[str, Any], *, keys: KeyRing) -> Any:
    """The object inside an envelope. Anything else (plaintext included) is refused."""
    return decrypt_json(_ciphertext(envelope), keys=keys)


def needs_rotation(envelope: Mapping[str, Any], *, keys: KeyRing) -> bool:
    """Whether the envelope was sealed under a key other than the current primary key."""
    return envelope.get("key_id") != keys.primary_key_id


def reseal_json(envelope: Mapping[str, Any], *, keys: KeyRing) -> dict[str, str]:
    """The envelope re-encrypted under the primary key, content unchanged."""
    return {
        "alg": ENVELOPE_ALG,
        "key_id": keys.primary_key_id,
        "ciphertext": rotate(_ciphertext(envelope), keys=keys),
    }


def _ciphertext(envelope: Mapping[str, Any]) -> str:
    ciphertext = envelope.get("ciphertext")
    if envelope.get("alg") != ENVELOPE_ALG or not isinstance(ciphertext, str):
        raise DecryptionError("stored secret is not an encrypted envelope; refusing to use it")
    return ciphertext
