"""The schema's promises, on real SQLite and PostgreSQL: aware timestamps, JSON round trips,
unique and check constraints, ordering columns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from leadsync.db.models import (
    Conversation,
    LeadLink,
    LeadSyncQueue,
    Property,
    RealtimeEvent,
    ResmanIntegration,
    SyncConflict,
    WebhookInbox,
)

SessionFactory = async_sessionmaker[AsyncSession]


async def _property(session: AsyncSession) -> Property:
    prop = Property(name="Maple Court")
    session.add(prop)
    await session.flush()
    return prop


async def _conversation(session: AsyncSession, **fields: Any) -> Conversation:
    prop = await _property(session)
    conversation = Conversation(property_id=prop.id, **fields)
    session.add(conversation)
    await session.flush()
    return conversation


async def _integration(session: AsyncSession, property_id: uuid.UUID) -> ResmanIntegration:
    integration = ResmanIntegration(
        property_id=property_id,
        resman_property_id=str(uuid.uuid4()),
        api_credentials={"alg": "fernet", "key_id": "x", "ciphertext": "not-a-real-token"},
    )
    session.add(integration)
    await session.flush()
    return integration


# --- timestamps --------------------------------------------------------------------------
async def test_timestamps_come_back_aware_utc(session_factory: SessionFactory) -> None:
    chicago_evening = datetime(2026, 3, 8, 19, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-6)))
    async with session_factory() as session:
        conversation = await _conversation(session)
        conversation_id = conversation.id
        session.add(
            LeadSyncQueue(sync_operation="push", lead_key="k", next_retry_at=chicago_evening)
        )
        await session.commit()

    async with session_factory() as session:
        if session.get_bind().dialect.name == "postgresql":
            # The server answers in the session's zone; the type must still hand back UTC.
            await session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))
        job = await session.scalar(select(LeadSyncQueue))
        assert job is not None
        assert job.next_retry_at == chicago_evening
        assert job.next_retry_at.tzinfo is UTC
        assert job.next_retry_at.hour == 1  # 19:30 at -06:00 is 01:30 UTC the next day
        # Server-side default (CURRENT_TIMESTAMP / now()) is aware too.
        raw_created = await session.scalar(
            select(Conversation.created_at).where(Conversation.id == conversation_id)
        )
        assert raw_created is not None
        assert raw_created.tzinfo is UTC


async def test_server_default_timestamps_are_aware(session: AsyncSession) -> None:
    await session.execute(
        text("INSERT INTO property (id, name) VALUES (:id, 'Raw insert')"),
        {
            "id": uuid.uuid4().hex
            if session.get_bind().dialect.name == "sqlite"
            else str(uuid.uuid4())
        },
    )
    created = await session.scalar(select(Property.created_at))
    assert created is not None
    assert created.tzinfo is UTC
    assert abs(created - datetime.now(UTC)) < timedelta(hours=1)


async def test_naive_datetimes_are_refused(session: AsyncSession) -> None:
    session.add(
        LeadSyncQueue(sync_operation="push", lead_key="k", next_retry_at=datetime(2026, 1, 1))
    )
    with pytest.raises(StatementError, match="naive datetime"):
        await session.flush()


async def test_timestamp_comparison_uses_the_instant(session: AsyncSession) -> None:
    base = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    for minutes in (0, 10, 20):
        session.add(
            LeadSyncQueue(
                sync_operation="push",
                lead_key=f"k{minutes}",
                next_retry_at=base + timedelta(minutes=minutes),
            )
        )
    await session.flush()
    # 12:15 UTC written in another zone: only the 12:00 and 12:10 jobs are due.
    cutoff = datetime(2026, 5, 1, 14, 15, tzinfo=timezone(timedelta(hours=2)))
    due = await session.scalars(
        select(LeadSyncQueue.lead_key)
        .where(LeadSyncQueue.next_retry_at <= cutoff)
        .order_by(LeadSyncQueue.next_retry_at)
    )
    assert list(due) == ["k0", "k10"]


# --- JSON --------------------------------------------------------------------------------
async def test_json_round_trip(session_factory: SessionFactory) -> None:
    context = {
        "resman_status": "tour_scheduled",
        "notes": ["Called back", "Prefers mornings ☀", 'quote " and \\ backslash'],
        "custom_fields": {"parking": True, "floor": 3, "rent": 1450.5, "pets": None},
    }
    async with session_factory() as session:
        conversation = await _conversation(session, context=context, pet_details=None)
        conversation_id = conversation.id
        await session.commit()

    async with session_factory() as session:
        loaded = await session.get(Conversation, conversation_id)
        assert loaded is not None
        assert loaded.context == context
        # Python None is SQL NULL (none_as_null), so IS NULL finds it.
        found = await session.scalar(
            select(Conversation.id).where(Conversation.pet_details.is_(None))
        )
        assert found == conversation_id


async def test_json_defaults_to_empty_object(session: AsyncSession) -> None:
    conversation = await _conversation(session)
    await session.refresh(conversation)
    assert conversation.context == {}


# --- unique constraints ------------------------------------------------------------------
async def test_webhook_id_is_unique(session: AsyncSession) -> None:
    session.add(WebhookInbox(webhook_id="msg_2Lh9", payload={"lead_id": "1"}))
    await session.commit()
    session.add(WebhookInbox(webhook_id="msg_2Lh9", payload={"lead_id": "1"}))
    with pytest.raises(IntegrityError, match=r"(?i)unique|duplicate"):
        await session.commit()


async def test_one_link_per_conversation(session: AsyncSession) -> None:
    conversation = await _conversation(session)
    integration = await _integration(session, conversation.property_id)
    session.add(
        LeadLink(
            conversation_id=conversation.id, integration_id=integration.id, resman_prospect_id="P1"
        )
    )
    await session.commit()
    session.add(
        LeadLink(
            conversation_id=conversation.id, integration_id=integration.id, resman_prospect_id="P2"
        )
    )
    with pytest.raises(IntegrityError, match=r"(?i)unique|duplicate"):
        await session.commit()


async def test_many_conversations_link_to_one_prospect(session: AsyncSession) -> None:
    # A person who chats again: each conversation has its own link (and base), all to the
    # same ResMan prospect; links whose create is in flight have no prospect id yet.
    first = await _conversation(session)
    integration = await _integration(session, first.property_id)
    others = [Conversation(property_id=first.property_id) for _ in range(3)]
    session.add_all(others)
    await session.flush()
    session.add_all(
        [
            LeadLink(conversation_id=c.id, integration_id=integration.id, resman_prospect_id="P1")
            for c in (first, others[0], others[1])
        ]
    )
    session.add(LeadLink(conversation_id=others[2].id, integration_id=integration.id))
    await session.commit()
    linked = await session.scalars(
        select(LeadLink.conversation_id).where(LeadLink.resman_prospect_id == "P1")
    )
    assert set(linked) == {first.id, others[0].id, others[1].id}


async def test_conflict_types_and_dismissal(session: AsyncSession) -> None:
    conversation = await _conversation(session)
    other = Conversation(property_id=conversation.property_id)
    session.add(other)
    await session.flush()
    session.add_all(
        [
            SyncConflict(
                conversation_id=conversation.id,
                field="duplicate_lead",
                conflict_type="duplicate_lead",
                other_prospect_id="P9",
                other_conversation_id=other.id,
                status="dismissed",
            ),
            SyncConflict(conversation_id=conversation.id, field="email"),
        ]
    )
    await session.commit()
    types = await session.scalars(select(SyncConflict.conflict_type).order_by(SyncConflict.field))
    assert list(types) == ["duplicate_lead", "data"]
    # Deleting the other conversation keeps the conflict (its prospect id still says which).
    await session.delete(other)
    await session.commit()
    kept = await session.scalar(
        select(SyncConflict).where(SyncConflict.conflict_type == "duplicate_lead")
    )
    assert kept is not None
    await session.refresh(kept)
    assert (kept.other_conversation_id, kept.other_prospect_id) == (None, "P9")

    session.add(SyncConflict(conversation_id=conversation.id, field="x", conflict_type="other"))
    with pytest.raises(IntegrityError, match=r"(?i)check"):
        await session.commit()


async def test_one_open_conflict_per_field(session: AsyncSession) -> None:
    conversation = await _conversation(session)
    resolved = SyncConflict(
        conversation_id=conversation.id, field="email", status="resolved", resolution="resman"
    )
    session.add_all([resolved, SyncConflict(conversation_id=conversation.id, field="email")])
    await session.commit()  # a resolved one does not block a new open one

    session.add(SyncConflict(conversation_id=conversation.id, field="email"))
    with pytest.raises(IntegrityError, match=r"(?i)unique|duplicate"):
        await session.commit()


# --- check constraints and foreign keys --------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "archived"), ("lead_score", 101), ("source", "email")],
)
async def test_conversation_rejects_values_outside_the_vocabulary(
    session: AsyncSession, field: str, value: object
) -> None:
    prop = await _property(session)
    session.add(Conversation(property_id=prop.id, **{field: value}))
    with pytest.raises(IntegrityError, match=r"(?i)check"):
        await session.flush()


async def test_foreign_keys_are_enforced(session: AsyncSession) -> None:
    session.add(Conversation(property_id=uuid.uuid4()))
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        await session.flush()


# --- ordering columns --------------------------------------------------------------------
async def test_queue_seq_increases_in_insertion_order(session_factory: SessionFactory) -> None:
    async with session_factory() as session:
        batch = [LeadSyncQueue(sync_operation="push", lead_key="lead-a") for _ in range(5)]
        session.add_all(batch)
        await session.commit()
        first_seqs = [job.seq for job in batch]
    async with session_factory() as session:
        later = LeadSyncQueue(sync_operation="push", lead_key="lead-a")
        session.add(later)
        await session.commit()

    assert first_seqs == sorted(first_seqs)
    assert len(set(first_seqs)) == 5
    assert later.seq > max(first_seqs)


async def test_realtime_sequence_is_never_reused(session: AsyncSession) -> None:
    prop = await _property(session)
    events = [
        RealtimeEvent(property_id=prop.id, event_type="new_lead", source="domiq", data={"n": n})
        for n in range(3)
    ]
    session.add_all(events)
    await session.commit()
    last = events[-1].sequence
    assert [e.sequence for e in events] == sorted(e.sequence for e in events)

    # Purging the newest events must not let a new event take a number a client has seen.
    await session.execute(delete(RealtimeEvent))
    await session.commit()
    fresh = RealtimeEvent(property_id=prop.id, event_type="heartbeat", source="resman", data={})
    session.add(fresh)
    await session.commit()
    assert fresh.sequence > last
