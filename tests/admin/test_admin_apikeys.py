"""API keys on real SQLite and PostgreSQL: scoped to existing properties, shown once, revoked
for good; checked through the API's own authentication."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import AdminError, NotFoundError
from leadsync.admin.apikeys import create_api_key, list_api_keys, revoke_api_key
from leadsync.admin.integrations import create_property
from leadsync.api.auth import authenticate
from leadsync.api.problems import ProblemError
from leadsync.db.models import ApiKey, ApiKeyProperty


async def _properties(session: AsyncSession, n: int) -> list[uuid.UUID]:
    return [(await create_property(session, name=f"Property {i}")).id for i in range(n)]


async def test_created_key_authenticates_for_its_properties_only(session: AsyncSession) -> None:
    a, b, c = await _properties(session, 3)
    key, plaintext = await create_api_key(session, name="domiq-prod", property_ids=[a, b, a])
    await session.commit()

    principal = await authenticate(session, token=plaintext)
    assert principal.key_id == key.id
    assert principal.property_ids == frozenset({a, b})
    assert c not in principal.property_ids
    # Only a hash is stored: the plaintext is nowhere in the key's row.
    raw = await session.execute(text("SELECT * FROM api_key"))
    assert plaintext not in json.dumps([str(v) for v in raw.one()])


async def test_unknown_property_is_named_and_nothing_is_written(session: AsyncSession) -> None:
    [known] = await _properties(session, 1)
    await session.commit()
    unknown = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(unknown)):
        await create_api_key(session, name="k", property_ids=[known, unknown])
    await session.commit()
    for table in (ApiKey, ApiKeyProperty):
        assert await session.scalar(select(func.count()).select_from(table)) == 0


@pytest.mark.parametrize(
    ("name", "with_property", "message"),
    [
        ("k", False, "at least one property"),
        ("  ", True, "name must not be empty"),
        ("n" * 101, True, "at most 100"),
    ],
)
async def test_invalid_requests_are_refused(
    session: AsyncSession, name: str, with_property: bool, message: str
) -> None:
    ids = await _properties(session, 1) if with_property else []
    with pytest.raises(AdminError, match=message):
        await create_api_key(session, name=name, property_ids=ids)


async def test_list_shows_scope_and_state_but_no_secret(session: AsyncSession) -> None:
    a, b = await _properties(session, 2)
    first, first_plain = await create_api_key(session, name="first", property_ids=[b, a])
    second, _ = await create_api_key(session, name="second", property_ids=[a])
    await revoke_api_key(session, key_id=second.id)
    await session.commit()

    views = {v.id: v for v in await list_api_keys(session)}
    assert set(views) == {first.id, second.id}
    assert set(views[first.id].property_ids) == {a, b}
    assert views[first.id].revoked is False
    assert views[second.id].revoked is True
    dumped = json.dumps([v.to_dict() for v in views.values()])
    assert first_plain not in dumped
    assert first.hash not in dumped
    assert views[first.id].to_dict()["hint"] == f"lsk_{first.prefix}_..."


async def test_revoked_key_no_longer_authenticates(session: AsyncSession) -> None:
    [a] = await _properties(session, 1)
    key, plaintext = await create_api_key(session, name="k", property_ids=[a])
    await session.commit()
    revoked = await revoke_api_key(session, key_id=key.id)
    await session.commit()
    assert revoked.revoked_at is not None

    with pytest.raises(ProblemError) as refused:
        await authenticate(session, token=plaintext)
    assert refused.value.status == 401

    again = await revoke_api_key(session, key_id=key.id)
    assert again.revoked_at == revoked.revoked_at  # the first revocation time is kept


async def test_revoking_an_unknown_key_is_refused(session: AsyncSession) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(unknown)):
        await revoke_api_key(session, key_id=unknown)
