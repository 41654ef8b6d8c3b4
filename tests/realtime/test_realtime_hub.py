"""EventHub over a real database: order, routing per property, overflow, sequence gaps of
concurrent transactions, replay, retention and the in-process wake after commit."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import make_property
from leadsync.config import Settings
from leadsync.db.models import RealtimeEvent
from leadsync.db.types import utcnow
from leadsync.events import publish
from leadsync.realtime.eventlog import must_resync
from leadsync.realtime.hub import EventHub, HubConfig, Subscription
from leadsync.realtime.protocol import CLOSE_GOING_AWAY, CLOSE_TOO_SLOW
from stack import PATIENCE, wait_until


@pytest.fixture
async def props(session_factory: async_sessionmaker[AsyncSession]) -> tuple[uuid.UUID, uuid.UUID]:
    async with session_factory() as session, session.begin():
        a = await make_property(session, name="A")
        b = await make_property(session, name="B")
    return a.id, b.id


@pytest.fixture
async def hub(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[EventHub]:
    hub = EventHub(sessionmaker=session_factory, config=HubConfig(gap_grace_seconds=3600))
    try:
        yield hub
    finally:
        await hub.stop()


async def _publish(session: AsyncSession, property_id: uuid.UUID, n: int, **extra: Any) -> None:
    await publish(
        session,
        property_id=property_id,
        event_type="lead_update",
        source="domiq",
        data={"n": n, **extra},
    )
    # The event takes its sequence now: publish leaves the INSERT to the transaction's next
    # flush, and a real transaction may flush (any query does) long before it commits.
    await session.flush()


async def _commit_events(
    sessionmaker: async_sessionmaker[AsyncSession], property_id: uuid.UUID, numbers: range
) -> None:
    async with sessionmaker() as session, session.begin():
        for n in numbers:
            await _publish(session, property_id, n)


def _drain(subscription: Subscription) -> list[dict[str, Any]]:
    messages = []
    while not subscription.queue.empty():
        sequence, text = subscription.queue.get_nowait()
        message = json.loads(text)
        assert message["sequence"] == sequence
        messages.append(message)
    return messages


def _backend(session_factory: async_sessionmaker[AsyncSession]) -> str:
    bind = session_factory.kw["bind"]
    return str(bind.dialect.name)


async def test_events_reach_their_property_in_sequence_order(
    hub: EventHub, session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    a, b = props
    await hub.prime()
    on_a, on_b = hub.subscribe(a), hub.subscribe(b)
    async with session_factory() as session, session.begin():
        for n in range(6):
            await _publish(session, a if n % 2 == 0 else b, n)
    await hub.poll()
    got_a, got_b = _drain(on_a), _drain(on_b)
    assert [m["data"]["n"] for m in got_a] == [0, 2, 4]
    assert [m["data"]["n"] for m in got_b] == [1, 3, 5]
    assert {m["property_id"] for m in got_a} == {str(a)}
    sequences = [m["sequence"] for m in got_a]
    assert sequences == sorted(sequences)
    first = got_a[0]
    assert (first["type"], first["source"]) == ("lead_update", "domiq")
    assert first["timestamp"].endswith("+00:00")


async def test_hub_starts_after_the_existing_log(
    hub: EventHub, session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    a, _ = props
    await _commit_events(session_factory, a, range(3))
    await hub.prime()
    subscription = hub.subscribe(a)
    await _commit_events(session_factory, a, range(3, 5))
    await hub.poll()
    assert [m["data"]["n"] for m in _drain(subscription)] == [3, 4]


async def test_a_full_buffer_drops_only_that_subscriber(
    hub: EventHub, session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    a, _ = props
    await hub.prime()
    slow = hub.subscribe(a, buffer=2)
    fast = hub.subscribe(a, buffer=100)
    await _commit_events(session_factory, a, range(5))
    await hub.poll()
    assert slow.ended.is_set()
    assert slow.close_code == CLOSE_TOO_SLOW
    assert hub.overflows == 1
    assert hub.subscriber_count(a) == 1
    assert [m["data"]["n"] for m in _drain(fast)] == [0, 1, 2, 3, 4]
    await _commit_events(session_factory, a, range(5, 6))
    await hub.poll()
    assert [m["data"]["n"] for m in _drain(fast)] == [5]


async def test_out_of_order_commits_are_dispatched_in_sequence_order(
    hub: EventHub, session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    if _backend(session_factory) == "sqlite":
        pytest.skip("SQLite serialises writers: two transactions cannot commit out of order")
    a, _ = props
    await hub.prime()
    subscription = hub.subscribe(a)
    async with session_factory() as first, session_factory() as second:
        await _publish(first, a, 1)  # takes the lower sequence, commits last
        await _publish(second, a, 2)
        await second.commit()
        await hub.poll()
        assert _drain(subscription) == []  # 2 waits for 1, still in flight
        await first.commit()
    await hub.poll()
    assert [m["data"]["n"] for m in _drain(subscription)] == [1, 2]
    assert hub.skipped_gaps == 0


async def test_a_rolled_back_sequence_is_skipped_after_the_grace_period(
    session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    if _backend(session_factory) == "sqlite":
        pytest.skip("SQLite reuses a rolled-back AUTOINCREMENT number: no gaps")
    a, _ = props
    hub = EventHub(sessionmaker=session_factory, config=HubConfig(gap_grace_seconds=0.0))
    await hub.prime()
    subscription = hub.subscribe(a)
    async with session_factory() as lost, session_factory() as kept:
        await _publish(lost, a, 1)
        await _publish(kept, a, 2)
        await kept.commit()
        await lost.rollback()
    await hub.poll()
    assert [m["data"]["n"] for m in _drain(subscription)] == [2]
    assert hub.skipped_gaps == 1


async def test_replay_returns_the_property_events_in_the_range(
    hub: EventHub, session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    a, b = props
    hub.config.batch_size = 2  # several batches
    async with session_factory() as session, session.begin():
        for n in range(7):
            await _publish(session, a if n != 3 else b, n)
    _, newest = await hub.log_bounds()
    assert newest is not None
    got = [
        json.loads(text)["data"]["n"]
        async for batch in hub.replay(a, after=newest - 6, upto=newest - 1)
        for _, text in batch
    ]
    assert got == [1, 2, 4, 5]


async def test_purge_keeps_the_newest_events(
    hub: EventHub, session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    a, _ = props
    await _commit_events(session_factory, a, range(10))
    oldest, newest = await hub.log_bounds()
    assert oldest is not None
    assert newest is not None
    hub.config.retention_max_events = 4
    assert await hub.purge() == 6
    assert await hub.log_bounds() == (newest - 3, newest)
    # Past the age limit everything goes except the newest: the log keeps its position.
    assert await hub.purge(now=utcnow() + timedelta(days=8)) == 3
    assert await hub.log_bounds() == (newest, newest)
    assert must_resync(since=oldest, oldest=newest, newest=newest)
    assert not must_resync(since=newest - 1, oldest=newest, newest=newest)
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(RealtimeEvent)) == 1


def test_resync_rules() -> None:
    assert not must_resync(since=0, oldest=None, newest=None)  # nothing ever logged
    assert must_resync(since=5, oldest=None, newest=None)
    assert not must_resync(since=0, oldest=1, newest=9)
    assert must_resync(since=0, oldest=3, newest=9)
    assert not must_resync(since=9, oldest=3, newest=9)
    assert must_resync(since=10, oldest=3, newest=9)  # a sequence this log never had


async def test_a_local_commit_wakes_the_hub(
    session_factory: async_sessionmaker[AsyncSession], props: tuple[uuid.UUID, ...]
) -> None:
    a, _ = props
    # Polling once an hour: only the after-commit wake can deliver the event.
    hub = EventHub(sessionmaker=session_factory, config=HubConfig(poll_seconds=3600))
    await hub.start()
    try:
        subscription = hub.subscribe(a)
        await _commit_events(session_factory, a, range(1))
        sequence, _ = await asyncio.wait_for(subscription.queue.get(), timeout=PATIENCE)
        assert sequence == hub.last_sequence
    finally:
        await hub.stop()
    assert subscription.ended.is_set()
    assert subscription.close_code == CLOSE_GOING_AWAY


def test_config_reads_realtime_settings() -> None:
    settings = Settings(realtime_client_buffer=7, realtime_heartbeat_seconds=1.5)
    config = HubConfig.from_settings(settings)
    assert (config.client_buffer, config.heartbeat_seconds) == (7, 1.5)


@pytest.fixture
def log_reads(session_factory: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    """Every statement that reads the event log, as the engine sends it."""
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM realtime_event" in statement:
            reads.append(statement)

    engine = session_factory.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_without_subscribers_commits_wait_for_the_poll_and_a_subscriber_catches_up(
    session_factory: async_sessionmaker[AsyncSession],
    props: tuple[uuid.UUID, ...],
    log_reads: list[str],
) -> None:
    a, _ = props
    # Polling once an hour: past its first read, the hub reads only when woken.
    hub = EventHub(sessionmaker=session_factory, config=HubConfig(poll_seconds=3600))
    try:
        await hub.start()

        async def started() -> bool:  # the start's bounds and the tail's first read
            return len(log_reads) >= 2

        await wait_until(started, interval=0.01)
        before = len(log_reads)
        await _commit_events(session_factory, a, range(3))
        for _ in range(20):  # turns of the loop in which a woken tail would read
            await asyncio.sleep(0.01)
        assert len(log_reads) == before  # nobody listens: the commits woke no read
        # A subscriber starts from now: the three earlier events are not in its queue.
        await hub.catch_up()
        _, newest = await hub.log_bounds()
        assert hub.last_sequence == newest
        subscription = hub.subscribe(a)
        assert subscription.start_after == newest
        await _commit_events(session_factory, a, range(3, 4))
        sequence, text = await asyncio.wait_for(subscription.queue.get(), timeout=PATIENCE)
        assert (sequence, json.loads(text)["data"]["n"]) == (newest + 1, 3)
        assert subscription.queue.empty()
    finally:
        await hub.stop()


async def test_a_stopped_hub_reads_nothing_for_a_new_subscriber_and_turns_it_away(
    session_factory: async_sessionmaker[AsyncSession],
    props: tuple[uuid.UUID, ...],
    log_reads: list[str],
) -> None:
    a, _ = props
    hub = EventHub(sessionmaker=session_factory)
    await hub.start()
    await hub.stop()
    before = len(log_reads)
    await hub.catch_up()  # a connection arriving during shutdown
    assert len(log_reads) == before
    subscription = hub.subscribe(a)
    assert subscription.close_code == CLOSE_GOING_AWAY
