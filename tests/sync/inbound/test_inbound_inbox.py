"""Accepting deliveries in groups (`sync/inbound/inbox.py`) on a real database: deliveries
that arrive together are stored in fewer transactions, each answered with its own outcome;
duplicates inside a group and a delivery the database refuses stay the business of that
delivery alone. Their secret checks share reads too (`sync/inbound/webhook_secrets.py`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from factories import make_conversation, make_integration, make_property
from leadsync.db.models import LeadLink, LeadSyncQueue, ResmanIntegration, WebhookInbox
from leadsync.sandbox.webhooks import generate_secret
from leadsync.security.crypto import KeyRing, generate_key, seal_json
from leadsync.sync.inbound.inbox import AcceptedDelivery, InboxWriter, accept_delivery
from leadsync.sync.inbound.payload import Delivery, parse_delivery
from leadsync.sync.inbound.webhook_secrets import WebhookSecretCache

RESMAN_PROPERTY = "5b8a3b6e-2f3c-4a8e-9a51-2d1f6a7c9e01"


def delivery(webhook_id: str, *, lead_id: str = "P-1", status: str = "applicant") -> Delivery:
    body: dict[str, Any] = {
        "lead_id": lead_id,
        "status": status,
        "updated_fields": {"status": status},
        "timestamp": "2026-11-20T15:04:05.123456+00:00",
        "updated_by": "Dana Agent",
        "sync_direction": "from_resman",
        "property_id": RESMAN_PROPERTY,
    }
    return parse_delivery(
        json.dumps(body).encode(), webhook_id=webhook_id, resman_property_id=RESMAN_PROPERTY
    )


def _signed(secret: str, body: bytes) -> dict[str, str]:
    now = datetime.now(UTC)
    signature = Webhook(secret).sign("msg_1", now, body.decode())
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


async def _integration(session_factory: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with session_factory() as session, session.begin():
        prop = await make_property(session)
        return (await make_integration(session, property_id=prop.id)).id


async def _stored(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, list[Any]]:
    async with session_factory() as session:
        inbox = await session.scalar(select(func.count()).select_from(WebhookInbox))
        jobs = (await session.scalars(select(LeadSyncQueue).order_by(LeadSyncQueue.seq))).all()
    return int(inbox or 0), list(jobs)


async def test_deliveries_arriving_together_share_transactions(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    integration_id = await _integration(session_factory)
    async with session_factory() as session, session.begin():
        conversation = await make_conversation(
            session, property_id=(await make_property(session, name="Linked")).id
        )
        session.add(
            LeadLink(
                conversation_id=conversation.id,
                integration_id=integration_id,
                resman_prospect_id="P-linked",
            )
        )
    writer = InboxWriter(sessionmaker=session_factory)
    count = 40
    results = await asyncio.gather(
        *(
            writer.accept(
                integration_id=integration_id,
                delivery=delivery(f"msg_{i}", lead_id="P-linked" if i % 10 == 0 else f"P-{i}"),
            )
            for i in range(count)
        )
    )
    # Every request was answered after a commit holding it, with far fewer commits.
    assert all(not r.duplicate and r.inbox_id and r.job_id for r in results)
    assert writer.transactions < count / 4
    inbox_rows, jobs = await _stored(session_factory)
    assert inbox_rows == count
    assert {j.id for j in jobs} == {r.job_id for r in results}
    by_id = {j.id: j for j in jobs}
    for i, result in enumerate(results):
        assert result.job_id is not None
        job = by_id[result.job_id]
        assert job.sync_data["inbox_id"] == str(result.inbox_id)
        if i % 10 == 0:  # a linked prospect's refresh runs in its lead's order
            assert (job.conversation_id, job.lead_key) == (conversation.id, str(conversation.id))
        else:
            assert (job.conversation_id, job.lead_key) == (None, f"resman:P-{i}")
    # Jobs are queued in the order the deliveries arrived (one lead's run in that order).
    assert [j.sync_data["prospect_id"] for j in jobs] == [
        "P-linked" if i % 10 == 0 else f"P-{i}" for i in range(count)
    ]


async def test_a_webhook_id_twice_in_a_group_or_already_stored_is_a_duplicate(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    integration_id = await _integration(session_factory)
    async with session_factory() as session, session.begin():
        await accept_delivery(session, integration_id=integration_id, delivery=delivery("msg_old"))
    writer = InboxWriter(sessionmaker=session_factory)
    results = await asyncio.gather(
        *(
            writer.accept(integration_id=integration_id, delivery=delivery(webhook_id))
            for webhook_id in ("msg_a", "msg_old", "msg_a", "msg_b")
        )
    )
    assert [r.duplicate for r in results] == [False, True, True, False]
    assert results[1] == results[2] == AcceptedDelivery(duplicate=True)
    inbox_rows, jobs = await _stored(session_factory)
    assert (inbox_rows, len(jobs)) == (3, 3)  # msg_old, msg_a, msg_b: one job each


async def test_a_delivery_the_database_refuses_fails_alone(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    integration_id = await _integration(session_factory)
    unknown = uuid.uuid4()  # no such integration: the inbox's foreign key refuses it
    writer = InboxWriter(sessionmaker=session_factory)
    results = await asyncio.gather(
        writer.accept(integration_id=integration_id, delivery=delivery("msg_1")),
        writer.accept(integration_id=unknown, delivery=delivery("msg_2")),
        writer.accept(integration_id=integration_id, delivery=delivery("msg_3")),
        return_exceptions=True,
    )
    assert isinstance(results[1], IntegrityError)
    assert all(
        isinstance(r, AcceptedDelivery) and not r.duplicate for r in (results[0], results[2])
    )
    inbox_rows, jobs = await _stored(session_factory)
    assert (inbox_rows, len(jobs)) == (2, 2)
    # The group was tried once, then each delivery alone.
    assert writer.transactions == 4


async def test_a_lone_delivery_is_written_at_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    integration_id = await _integration(session_factory)
    writer = InboxWriter(sessionmaker=session_factory)
    for i in range(3):
        result = await writer.accept(integration_id=integration_id, delivery=delivery(f"m{i}"))
        assert not result.duplicate
    assert writer.transactions == 3
    inbox_rows, jobs = await _stored(session_factory)
    assert (inbox_rows, len(jobs)) == (3, 3)


@pytest.mark.parametrize("max_batch", [1, 7])
async def test_groups_are_bounded(
    session_factory: async_sessionmaker[AsyncSession], max_batch: int
) -> None:
    integration_id = await _integration(session_factory)
    writer = InboxWriter(sessionmaker=session_factory, max_batch=max_batch)
    count = 20
    results = await asyncio.gather(
        *(
            writer.accept(integration_id=integration_id, delivery=delivery(f"msg_{i}"))
            for i in range(count)
        )
    )
    assert len({r.inbox_id for r in results}) == count
    assert writer.transactions == -(-count // max_batch)


async def test_secret_checks_arriving_together_share_one_read_and_see_a_new_secret_at_once(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    keys = KeyRing([generate_key().encode()])
    old, new = generate_secret(), generate_secret()
    async with session_factory() as session, session.begin():
        prop = await make_property(session)
        integration = await make_integration(
            session,
            property_id=prop.id,
            credentials=seal_json({"webhook_secrets": [old]}, keys=keys),
        )
    cache = WebhookSecretCache(engine=engine, keys=keys)
    unknown = uuid.uuid4()
    targets = await asyncio.gather(
        *(cache.get(integration_id=unknown if i == 3 else integration.id) for i in range(20))
    )
    assert cache.reads == 1
    assert targets[3] is None
    known = [t for i, t in enumerate(targets) if i != 3]
    assert all(t is not None and t.integration_id == integration.id for t in known)
    async with session_factory() as session, session.begin():
        row = await session.get_one(ResmanIntegration, integration.id)
        row.api_credentials = seal_json({"webhook_secrets": [new]}, keys=keys)
    # Every check reads the row's version: the replaced secret is gone for the next one.
    target = await cache.get(integration_id=integration.id)
    assert target is not None
    assert target.verify(b"{}", _signed(new, b"{}"))
    assert not target.verify(b"{}", _signed(old, b"{}"))
    assert cache.reads == 2
