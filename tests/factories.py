"""Test data factories (real rows in the real database, never mocks)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.db.models import Conversation, Property, ResmanIntegration


async def make_property(session: AsyncSession, *, name: str = "Maple Court") -> Property:
    prop = Property(id=uuid.uuid4(), name=name)
    session.add(prop)
    await session.flush()
    return prop


async def make_integration(
    session: AsyncSession,
    *,
    property_id: uuid.UUID,
    credentials: dict[str, str] | None = None,
    resman_property_id: str = "5b8a3b6e-2f3c-4a8e-9a51-2d1f6a7c9e01",
) -> ResmanIntegration:
    integration = ResmanIntegration(
        id=uuid.uuid4(),
        property_id=property_id,
        resman_property_id=resman_property_id,
        api_credentials=credentials or {"alg": "none-for-queue-tests"},
    )
    session.add(integration)
    await session.flush()
    return integration


async def make_conversation(
    session: AsyncSession, *, property_id: uuid.UUID, first_name: str = "Ann"
) -> Conversation:
    conv = Conversation(
        id=uuid.uuid4(),
        property_id=property_id,
        first_name=first_name,
        last_name="Lee",
        context={},
    )
    session.add(conv)
    await session.flush()
    return conv
