"""ResMan credentials as they sit in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import cast, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from leadsync.config import Settings
from leadsync.db.models import Property, ResmanIntegration
from leadsync.security.crypto import (
    generate_key,
    load_keys,
    needs_rotation,
    open_json,
    parse_keys,
    reseal_json,
    seal_json,
)

SECRET = "ResManApiKey-9f8e7d6c5b4a"
CREDENTIALS = {"IntegrationPartnerID": "partner-7", "ApiKey": SECRET, "AccountID": 400}


async def _store(session: AsyncSession, envelope: dict[str, str]) -> ResmanIntegration:
    prop = Property(name="Birch Flats")
    session.add(prop)
    await session.flush()
    integration = ResmanIntegration(
        property_id=prop.id, resman_property_id="b3f1e0c2", api_credentials=envelope
    )
    session.add(integration)
    await session.commit()
    return integration


async def _raw_column(session: AsyncSession) -> str:
    raw: str | None = await session.scalar(select(cast(ResmanIntegration.api_credentials, Text)))
    assert raw is not None
    return raw


async def test_stored_credentials_are_not_plaintext(session: AsyncSession) -> None:
    keys = load_keys(settings=Settings())  # embedded default: generated key
    integration = await _store(session, seal_json(CREDENTIALS, keys=keys))

    raw = await _raw_column(session)
    assert SECRET not in raw
    assert "partner-7" not in raw
    assert "ciphertext" in raw

    session.expunge_all()
    loaded = await session.get(ResmanIntegration, integration.id)
    assert loaded is not None
    assert open_json(loaded.api_credentials, keys=keys) == CREDENTIALS


async def test_rows_are_resealed_under_a_new_primary_key(session: AsyncSession) -> None:
    old, new = generate_key(), generate_key()
    old_keys = parse_keys(old, source="old")
    integration = await _store(session, seal_json(CREDENTIALS, keys=old_keys))
    before = await _raw_column(session)

    rotated_keys = load_keys(settings=Settings(encryption_keys=SecretStr(f"{new},{old}")))
    assert needs_rotation(integration.api_credentials, keys=rotated_keys)
    await session.execute(
        update(ResmanIntegration)
        .where(ResmanIntegration.id == integration.id)
        .values(api_credentials=reseal_json(integration.api_credentials, keys=rotated_keys))
    )
    await session.commit()

    after = await _raw_column(session)
    assert after != before
    assert SECRET not in after
    session.expunge_all()
    loaded = await session.get(ResmanIntegration, integration.id)
    assert loaded is not None
    assert open_json(loaded.api_credentials, keys=parse_keys(new, source="new")) == CREDENTIALS
