"""Encryption keys: where they come from, how they rotate, how failures read."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from leadsync.config import Settings
from leadsync.errors import ConfigurationError, DecryptionError
from leadsync.security.crypto import (
    KEY_FILE_NAME,
    decrypt_json,
    encrypt_json,
    generate_key,
    load_keys,
    needs_rotation,
    open_json,
    parse_keys,
    reseal_json,
    rotate,
    seal_json,
)

CREDENTIALS = {"IntegrationPartnerID": "partner-7", "ApiKey": "k3y-s3cr3t", "AccountID": 400}


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that hides nothing, so only explicit modes can make files private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the embedded (SQLite) default -------------------------------------------------------
@pytest.mark.usefixtures("open_umask")
def test_embedded_key_is_generated_once_owner_only_and_reused(data_dir: Path) -> None:
    assert not data_dir.exists()
    first = load_keys(settings=Settings())
    key_file = data_dir / KEY_FILE_NAME
    assert _mode(data_dir) == 0o700
    assert _mode(key_file) == 0o600
    content = key_file.read_bytes()
    token = encrypt_json(CREDENTIALS, keys=first)

    second = load_keys(settings=Settings())
    assert key_file.read_bytes() == content
    assert second.primary_key_id == first.primary_key_id
    assert decrypt_json(token, keys=second) == CREDENTIALS


def test_simultaneous_first_starts_agree_on_one_key(data_dir: Path) -> None:
    start = threading.Barrier(8)
    key_ids: list[str] = []

    def boot() -> None:
        start.wait()
        key_ids.append(load_keys(settings=Settings()).primary_key_id)

    threads = [threading.Thread(target=boot) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(key_ids) == 8
    assert len(set(key_ids)) == 1
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE_NAME]  # no temp files left


def test_configured_keys_win_and_no_file_is_written(data_dir: Path) -> None:
    key = generate_key()
    keys = load_keys(settings=Settings(encryption_keys=SecretStr(f" {key} ")))
    assert keys.primary_key_id == parse_keys(key, source="test").primary_key_id
    assert not (data_dir / KEY_FILE_NAME).exists()


# --- PostgreSQL --------------------------------------------------------------------------
def test_postgres_without_keys_is_a_startup_error(data_dir: Path) -> None:
    settings = Settings(database_url="postgresql://leadsync@db.internal:5432/leadsync")
    with pytest.raises(ConfigurationError, match="LEADSYNC_ENCRYPTION_KEYS must be set"):
        load_keys(settings=settings)
    assert not (data_dir / KEY_FILE_NAME).exists()  # no silent fallback to a local key


def test_postgres_with_keys_encrypts(data_dir: Path) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://leadsync@db/leadsync",
        encryption_keys=SecretStr(generate_key()),
    )
    keys = load_keys(settings=settings)
    assert decrypt_json(encrypt_json(CREDENTIALS, keys=keys), keys=keys) == CREDENTIALS


# --- bad keys and bad tokens -------------------------------------------------------------
def test_malformed_key_is_named_by_position_not_shown() -> None:
    bad = "this-is-not-a-fernet-key"
    with pytest.raises(ConfigurationError, match="key #2 is not a valid Fernet key") as caught:
        parse_keys(f"{generate_key()},{bad}", source="LEADSYNC_ENCRYPTION_KEYS")
    assert bad not in str(caught.value)


def test_only_commas_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="holds no encryption key"):
        load_keys(settings=Settings(encryption_keys=SecretStr(" , ")))


def test_wrong_key_is_a_clear_error() -> None:
    token = encrypt_json(CREDENTIALS, keys=parse_keys(generate_key(), source="a"))
    other = parse_keys(generate_key(), source="b")
    with pytest.raises(DecryptionError, match="could not be decrypted with any configured key"):
        decrypt_json(token, keys=other)
    with pytest.raises(DecryptionError):
        rotate(token, keys=other)


def test_tampered_token_is_refused() -> None:
    keys = parse_keys(generate_key(), source="a")
    token = encrypt_json(CREDENTIALS, keys=keys)
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(DecryptionError):
        decrypt_json(tampered, keys=keys)


# --- rotation ----------------------------------------------------------------------------
def test_rotation_adds_a_new_first_key_then_retires_the_old() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_only = parse_keys(old, source="old")
    token = encrypt_json(CREDENTIALS, keys=old_only)

    both = parse_keys(f"{new},{old}", source="both")
    assert decrypt_json(token, keys=both) == CREDENTIALS  # old data still readable

    rotated = rotate(token, keys=both)
    new_only = parse_keys(new, source="new")
    assert decrypt_json(rotated, keys=new_only) == CREDENTIALS
    with pytest.raises(DecryptionError):
        decrypt_json(rotated, keys=old_only)


def test_envelope_tracks_its_key_and_reseals_under_the_primary() -> None:
    old, new = generate_key(), generate_key()
    envelope = seal_json(CREDENTIALS, keys=parse_keys(old, source="old"))
    assert set(envelope) == {"alg", "key_id", "ciphertext"}

    both = parse_keys(f"{new},{old}", source="both")
    assert needs_rotation(envelope, keys=both)
    resealed = reseal_json(envelope, keys=both)
    assert not needs_rotation(resealed, keys=both)
    assert open_json(resealed, keys=parse_keys(new, source="new")) == CREDENTIALS


def test_plaintext_is_never_accepted_as_an_envelope() -> None:
    keys = parse_keys(generate_key(), source="a")
    with pytest.raises(DecryptionError, match="not an encrypted envelope"):
        open_json(CREDENTIALS, keys=keys)
