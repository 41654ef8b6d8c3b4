"""LISTEN/NOTIFY on a real PostgreSQL: an event (or a job) committed through one connection
wakes listeners on others; a rolled-back one does not; a listener whose connection is killed
comes back and hears later events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from factories import make_integration, make_property
from leadsync.db.listen import RESYNC, EventListener
from leadsync.events import CHANNEL, publish
from leadsync.sync.queue.jobs import Placement, RefreshJob, enqueue_job
from leadsync.sync.queue.repository import JOBS_CHANNEL, PROCESS_TAG
from stack import PATIENCE, wait_until

pytestmark = pytest.mark.parametrize(
    "migrated_db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


class Heard:
    """What one listener was told, in order, with a way to wait for a payload."""

    def __init__(self) -> None:
        self.payloads: list[str] = []

    def __call__(self, payload: str) -> None:
        self.payloads.append(payload)

    def real(self) -> list[str]:
        return [p for p in self.payloads if p != RESYNC]

    async def wait_for(self, payload: str) -> None:
        async def heard() -> bool:
            return payload in self.payloads

        await wait_until(heard)


@pytest.fixture
async def listeners(
    migrated_db_url: str,
) -> AsyncIterator[Callable[[Callable[[str], None]], EventListener]]:
    started: list[EventListener] = []

    def listen(on_notify: Callable[[str], None]) -> EventListener:
        listener = EventListener(
            url=migrated_db_url, on_notify=on_notify, channel=CHANNEL, health_check_seconds=1.0
        )
        listener.start()
        started.append(listener)
        return listener

    try:
        yield listen
    finally:
        for listener in started:
            await listener.stop()


async def new_property(session_factory: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with session_factory() as session, session.begin():
        return (await make_property(session)).id


async def publish_event(
    session_factory: async_sessionmaker[AsyncSession], property_id: uuid.UUID, *, commit: bool
) -> None:
    async with session_factory() as session, session.begin() as tx:
        await publish(
            session,
            property_id=property_id,
            event_type="lead_update",
            source="domiq",
            data={"n": 1},
        )
        if not commit:
            await tx.rollback()


async def listening(listener: EventListener) -> None:
    await asyncio.wait_for(listener.listening.wait(), timeout=PATIENCE)


async def test_committed_event_reaches_listeners_on_other_connections(
    session_factory: async_sessionmaker[AsyncSession],
    listeners: Callable[[Callable[[str], None]], EventListener],
) -> None:
    first, second = Heard(), Heard()
    for listener in (listeners(first), listeners(second)):
        await listening(listener)
    prop = await new_property(session_factory)

    await publish_event(session_factory, prop, commit=True)

    await first.wait_for(str(prop))
    await second.wait_for(str(prop))
    assert first.real() == [str(prop)]
    assert second.real() == [str(prop)]


async def test_rolled_back_event_is_never_announced(
    session_factory: async_sessionmaker[AsyncSession],
    listeners: Callable[[Callable[[str], None]], EventListener],
) -> None:
    heard = Heard()
    await listening(listeners(heard))
    rolled_back, committed = (
        await new_property(session_factory),
        await new_property(session_factory),
    )

    await publish_event(session_factory, rolled_back, commit=False)
    await publish_event(session_factory, committed, commit=True)

    # Notifications arrive in commit order: once the later one is here, the earlier one
    # would have been too.
    await heard.wait_for(str(committed))
    assert heard.real() == [str(committed)]


async def test_listener_reconnects_after_its_connection_is_killed(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    listeners: Callable[[Callable[[str], None]], EventListener],
) -> None:
    heard = Heard()
    listener = listeners(heard)
    await listening(listener)
    assert heard.payloads == [RESYNC]  # a fresh connection asks the hub to re-read once

    async with engine.connect() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'leadsync-listen' AND datname = current_database()"
            )
        )
    assert killed == 1

    async def back() -> bool:
        return listener.connects == 2 and listener.listening.is_set()

    await wait_until(back)
    # Whatever was committed while it was away is picked up by the hub's re-read.
    assert heard.payloads == [RESYNC, RESYNC]
    prop = await new_property(session_factory)
    await publish_event(session_factory, prop, commit=True)
    await heard.wait_for(str(prop))


async def test_a_failing_callback_does_not_stop_the_listener(
    session_factory: async_sessionmaker[AsyncSession],
    listeners: Callable[[Callable[[str], None]], EventListener],
) -> None:
    heard = Heard()
    calls: list[str] = []

    def flaky(payload: str) -> None:
        calls.append(payload)
        if len(calls) == 2:
            raise RuntimeError("hub hiccup")
        heard(payload)

    listener = listeners(flaky)
    await listening(listener)
    first, second = await new_property(session_factory), await new_property(session_factory)
    await publish_event(session_factory, first, commit=True)
    await publish_event(session_factory, second, commit=True)

    await heard.wait_for(str(second))
    assert calls == [RESYNC, str(first), str(second)]
    assert listener.connects == 1


async def test_a_committed_job_wakes_workers_listening_in_other_processes(
    migrated_db_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    heard = Heard()
    listener = EventListener(
        url=migrated_db_url, on_notify=heard, channel=JOBS_CHANNEL, health_check_seconds=1.0
    )
    listener.start()
    try:
        await listening(listener)
        async with session_factory() as session, session.begin() as tx:
            prop = await make_property(session)
            integration = await make_integration(session, property_id=prop.id)
            await enqueue_job(
                session,
                job=RefreshJob(prospect_id="P-rolled-back"),
                at=Placement(
                    integration_id=integration.id,
                    conversation_id=None,
                    priority=2,
                    lead_key="resman:P-rolled-back",
                ),
            )
            await tx.rollback()
        assert heard.real() == []  # nothing was committed: nothing to wake for

        async with session_factory() as session, session.begin():
            prop = await make_property(session)
            integration = await make_integration(session, property_id=prop.id)
            await enqueue_job(
                session,
                job=RefreshJob(prospect_id="P-1"),
                at=Placement(
                    integration_id=integration.id,
                    conversation_id=None,
                    priority=2,
                    lead_key="resman:P-1",
                ),
            )

        await heard.wait_for(PROCESS_TAG)
    finally:
        await listener.stop()
