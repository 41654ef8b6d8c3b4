"""Properties and ResMan integrations on real SQLite and PostgreSQL: sealed credentials,
masking, validation, one integration per property."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.admin import AdminError, NotFoundError
from leadsync.admin.integrations import (
    add_integration,
    create_property,
    describe,
    get_integration,
    list_integrations,
    mask,
    set_enabled,
)
from leadsync.db.models import Property, ResmanIntegration
from leadsync.security.crypto import KeyRing, generate_key, open_json
from leadsync.sync.queue.targets import credentials_from
from stack import PATIENCE

API_KEY = "rk-0f1e2d3c4b5a69788796a5b4c3d2e1f0-zq"
PARTNER_ID = "partner-7c41e9d2-aa"
WEBHOOK_SECRET = "whsec_c2VjcmV0LXdlYmhvb2stc2lnbmluZy1rZXk="


@pytest.fixture
def keys() -> KeyRing:
    return KeyRing([generate_key().encode("ascii")])


async def _add(session: AsyncSession, keys: KeyRing, **overrides: Any) -> ResmanIntegration:
    args: dict[str, Any] = {
        "keys": keys,
        "property_id": uuid.uuid4(),
        "resman_base_url": "https://api.resman.example/",
        "account_id": 400,
        "resman_property_id": "8f0f3b9e-1c2d-4e5f-9a8b-7c6d5e4f3a2b",
        "partner_id": PARTNER_ID,
        "api_key": API_KEY,
        "webhook_secret": WEBHOOK_SECRET,
    }
    args.update(overrides)
    return await add_integration(session, **args)


async def test_credentials_are_sealed_and_nothing_secret_is_in_plain_columns(
    session: AsyncSession, keys: KeyRing
) -> None:
    integration = await _add(session, keys)
    await session.commit()

    raw_row = (await session.execute(text("SELECT * FROM resman_integration"))).one()
    raw = json.dumps([str(value) for value in raw_row])
    for secret in (API_KEY, PARTNER_ID, WEBHOOK_SECRET, "api.resman.example"):
        assert secret not in raw
    assert open_json(integration.api_credentials, keys=keys) == {
        "base_url": "https://api.resman.example",
        "account_id": 400,
        "partner_id": PARTNER_ID,
        "api_key": API_KEY,
        "webhook_secrets": [WEBHOOK_SECRET],
    }


async def test_stored_credentials_are_what_the_push_flow_reads(
    session: AsyncSession, keys: KeyRing
) -> None:
    integration = await _add(session, keys, webhook_secret=None)
    plain = open_json(integration.api_credentials, keys=keys)
    creds = credentials_from(integration, plain)
    assert (creds.partner_id, creds.api_key, creds.account_id) == (PARTNER_ID, API_KEY, 400)
    assert creds.property_id == integration.resman_property_id
    assert plain["webhook_secrets"] == []


async def test_missing_property_is_created_with_a_default_name(
    session: AsyncSession, keys: KeyRing
) -> None:
    named = await _add(session, keys, property_name="Maple Court")
    unnamed = await _add(session, keys)
    await session.commit()
    assert (await session.get(Property, named.property_id)).name == "Maple Court"  # type: ignore[union-attr]
    prop = await session.get(Property, unnamed.property_id)
    assert prop is not None
    assert prop.name == f"Property {unnamed.property_id}"


async def test_existing_property_is_used_as_is(session: AsyncSession, keys: KeyRing) -> None:
    prop = await create_property(session, name="Oak Ridge", timezone="America/Denver")
    integration = await _add(session, keys, property_id=prop.id, property_name="ignored")
    await session.commit()
    assert integration.property_id == prop.id
    assert await session.scalar(select(func.count()).select_from(Property)) == 1
    assert (await session.get(Property, prop.id)).name == "Oak Ridge"  # type: ignore[union-attr]


async def test_create_property_is_idempotent_by_id(session: AsyncSession) -> None:
    wanted = uuid.uuid4()
    first = await create_property(session, name="Elm", property_id=wanted)
    again = await create_property(session, name="Other name", property_id=wanted)
    await session.commit()
    assert first.id == again.id == wanted
    assert again.name == "Elm"
    assert first.timezone == "America/Chicago"


@pytest.mark.parametrize(
    ("name", "timezone", "message"),
    [("", "America/Chicago", "name"), ("Birch", "Mars/Olympus_Mons", "time zone")],
)
async def test_create_property_validates(
    session: AsyncSession, name: str, timezone: str, message: str
) -> None:
    with pytest.raises(AdminError, match=message):
        await create_property(session, name=name, timezone=timezone)


async def test_second_integration_for_a_property_is_refused(
    session: AsyncSession, keys: KeyRing
) -> None:
    first = await _add(session, keys)
    with pytest.raises(AdminError, match="already has a ResMan integration") as refused:
        await _add(session, keys, property_id=first.property_id, resman_property_id="other")
    assert str(first.id) in str(refused.value)
    await session.commit()  # the refusal left the transaction usable
    assert await session.scalar(select(func.count()).select_from(ResmanIntegration)) == 1


async def _until_a_lock_wait(factory: async_sessionmaker[AsyncSession]) -> None:
    """Return once some transaction waits for a row lock (PostgreSQL), or after a few loop
    turns on SQLite, where the second writer already waits at BEGIN."""
    async with factory() as probe:
        if probe.get_bind().dialect.name != "postgresql":
            await asyncio.sleep(0.05)
            return
        # A deadline for the state, not a count of turns: a loaded machine may be slow to
        # get the second transaction to its lock.
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            waiting = await probe.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            await probe.rollback()  # a fresh snapshot for the next look
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the racing add never waited for the first one")


@pytest.mark.parametrize("property_exists", [True, False])
async def test_racing_adds_leave_one_integration_and_a_clear_refusal(
    session_factory: async_sessionmaker[AsyncSession], keys: KeyRing, property_exists: bool
) -> None:
    # On PostgreSQL the loser passes the pre-checks (the winner has not committed yet) and is
    # stopped by a unique constraint: the integration's, or first the new property's primary
    # key. It must still get the clear message.
    property_id = uuid.uuid4()
    if property_exists:
        async with session_factory() as setup:
            await create_property(setup, name="Cedar", property_id=property_id)
            await setup.commit()
    async with session_factory() as first, session_factory() as second:
        winner = await _add(first, keys, property_id=property_id)
        loser = asyncio.create_task(_add(second, keys, property_id=property_id))
        await _until_a_lock_wait(session_factory)
        await first.commit()
        with pytest.raises(AdminError, match="already has a ResMan integration"):
            await loser
        assert [i.id for i in await list_integrations(second)] == [winner.id]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"resman_base_url": "ftp://api.resman.example"}, "base_url"),
        ({"resman_base_url": "api.resman.example"}, "base_url"),
        ({"resman_base_url": "https://user:pw@api.resman.example"}, "user name or password"),
        ({"account_id": 0}, "account_id"),
        ({"account_id": -3}, "account_id"),
        ({"resman_property_id": "  "}, "resman_property_id"),
        ({"resman_property_id": "x" * 101}, "resman_property_id"),
        ({"partner_id": ""}, "partner_id"),
        ({"api_key": " "}, "api_key"),
        ({"webhook_secret": ""}, "webhook_secret"),
        ({"sync_direction": "sideways"}, "sync_direction"),
        ({"conflict_strategy": "coin_flip"}, "conflict_strategy"),
        ({"property_name": "p" * 201}, "property name"),
    ],
)
async def test_invalid_input_is_refused_and_writes_nothing(
    session: AsyncSession, keys: KeyRing, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(AdminError, match=message) as refused:
        await _add(session, keys, **overrides)
    assert API_KEY not in str(refused.value)
    await session.commit()
    for table in (Property, ResmanIntegration):
        assert await session.scalar(select(func.count()).select_from(table)) == 0


async def test_describe_masks_secrets(session: AsyncSession, keys: KeyRing) -> None:
    integration = await _add(
        session, keys, partner_id="p1", sync_direction="to_resman", conflict_strategy="domiq_wins"
    )
    summary = describe(integration, keys=keys)
    dumped = json.dumps(summary)  # JSON-safe
    assert API_KEY not in dumped
    assert WEBHOOK_SECRET not in dumped
    assert summary["api_key"] == "***" + API_KEY[-2:]
    assert summary["partner_id"] == "***"  # too short to reveal anything
    assert summary["id"] == str(integration.id)
    assert summary["property_id"] == str(integration.property_id)
    assert summary["base_url"] == "https://api.resman.example"
    assert summary["account_id"] == 400
    assert summary["webhook_secrets"] == 1
    assert summary["sync_direction"] == "to_resman"
    assert summary["conflict_strategy"] == "domiq_wins"
    assert summary["sync_enabled"] is True
    assert summary["credentials_readable"] is True
    assert summary["last_sync_at"] is None
    assert summary["created_at"] == integration.created_at.isoformat()


async def test_describe_survives_credentials_no_key_opens(
    session: AsyncSession, keys: KeyRing
) -> None:
    integration = await _add(session, keys)
    stranger = KeyRing([generate_key().encode("ascii")])
    summary = describe(integration, keys=stranger)
    assert summary["credentials_readable"] is False
    assert summary["api_key"] is None
    assert summary["base_url"] is None


@pytest.mark.parametrize(
    ("secret", "masked"),
    [("", "***"), ("abc", "***"), ("1234567", "***"), ("12345678", "***78")],
)
def test_mask_reveals_at_most_two_characters(secret: str, masked: str) -> None:
    assert mask(secret) == masked


async def test_get_list_and_enable(session: AsyncSession, keys: KeyRing) -> None:
    a = await _add(session, keys)
    b = await _add(session, keys)
    await session.commit()
    assert {i.id for i in await list_integrations(session)} == {a.id, b.id}

    disabled = await set_enabled(session, integration_id=a.id, enabled=False)
    await session.commit()
    assert disabled.sync_enabled is False
    stored = await session.scalar(
        select(ResmanIntegration.sync_enabled).where(ResmanIntegration.id == a.id)
    )
    assert stored is False
    await set_enabled(session, integration_id=a.id, enabled=True)
    await session.commit()
    assert (await get_integration(session, integration_id=a.id)).sync_enabled is True

    unknown = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(unknown)):
        await get_integration(session, integration_id=unknown)
    with pytest.raises(NotFoundError):
        await set_enabled(session, integration_id=unknown, enabled=False)
