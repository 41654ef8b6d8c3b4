"""The change-feed subscriber: where a feed is, which messages become refreshes, and that a
message seen twice (a reconnect replay, or the same change by webhook) queues one job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import make_integration, make_property
from leadsync.config import Settings
from leadsync.db.models import LeadSyncQueue, ResmanIntegration, WebhookInbox
from leadsync.embedded import ensure_demo_tenant
from leadsync.runtime import Runtime
from leadsync.sandbox.seed import SANDBOX_PROPERTY_ID
from leadsync.security.crypto import KeyRing, generate_key, seal_json
from leadsync.sync.inbound.feed import FeedSource, FeedSubscriber, delivery_of, feed_url
from leadsync.sync.inbound.payload import MalformedWebhookError

RESMAN_PROPERTY = SANDBOX_PROPERTY_ID
OTHER_PROPERTY = "c7d2e9f0-8b1a-4c3d-9e5f-6a7b8c9d0e12"


def message(
    *,
    origin: str = "staff",
    kind: str = "status_change",
    seq: int = 7,
    prospect_id: str = "P-1",
    property_id: str = RESMAN_PROPERTY,
    event_id: str | None = "chg-1",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "lead_id": prospect_id,
        "status": "applicant",
        "updated_fields": {"status": "applicant"},
        "timestamp": "2026-11-25T10:00:00+00:00",
        "updated_by": "resman_user",
        "sync_direction": "from_resman",
        "property_id": property_id,
        "modified_at": "2026-11-25T10:00:00+00:00",
    }
    if event_id is not None:
        data["event_id"] = event_id
    return {
        "seq": seq,
        "type": kind,
        "origin": origin,
        "property_id": property_id,
        "prospect_id": prospect_id,
        "data": data,
        "timestamp": "2026-11-25T10:00:00.123+00:00",
    }


# --- where the feed is -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "base_url", "expected"),
    [
        (
            {"feed": True},
            "http://127.0.0.1:8765",
            f"ws://127.0.0.1:8765/admin/feed?property_id={RESMAN_PROPERTY}",
        ),
        (
            {"feed": True},
            "https://relay.example.com/resman/",
            f"wss://relay.example.com/resman/admin/feed?property_id={RESMAN_PROPERTY}",
        ),
        ({"feed_url": "wss://feed.example.com/x?p=1"}, None, "wss://feed.example.com/x?p=1"),
        (
            {"feed_url": "https://feed.example.com/x", "feed": False},
            None,
            "wss://feed.example.com/x",
        ),
        ({}, "http://127.0.0.1:8765", None),
        ({"feed": "yes"}, "http://127.0.0.1:8765", None),
        ({"feed": True}, None, None),
        ({"feed": True}, "ftp://127.0.0.1", None),
        ({"feed_url": "not a url"}, None, None),
    ],
)
def test_feed_url(settings: dict[str, Any], base_url: str | None, expected: str | None) -> None:
    assert feed_url(settings, base_url=base_url, resman_property_id=RESMAN_PROPERTY) == expected


# --- which messages count ----------------------------------------------------------------
def test_a_staff_change_becomes_a_delivery_under_its_event_id() -> None:
    delivery = delivery_of(message(), resman_property_id=RESMAN_PROPERTY)
    assert delivery is not None
    assert delivery.webhook_id == "chg-1"
    assert delivery.event.lead_id == "P-1"
    assert delivery.payload == message()["data"]


def test_without_an_event_id_the_feed_position_names_the_change() -> None:
    first = delivery_of(message(event_id=None, seq=7), resman_property_id=RESMAN_PROPERTY)
    replay = delivery_of(message(event_id=None, seq=7), resman_property_id=RESMAN_PROPERTY)
    later = delivery_of(message(event_id=None, seq=8), resman_property_id=RESMAN_PROPERTY)
    assert first is not None
    assert replay is not None
    assert later is not None
    assert first.webhook_id == replay.webhook_id
    assert later.webhook_id != first.webhook_id
    assert first.webhook_id.startswith("feed:P-1:7:")


@pytest.mark.parametrize(
    "skipped",
    [
        message(origin="api"),  # our own write coming back
        {k: v for k, v in message().items() if k != "origin"},
        {"seq": 3, "type": "heartbeat", "property_id": RESMAN_PROPERTY, "timestamp": "x"},
    ],
)
def test_echoes_and_heartbeats_are_skipped(skipped: dict[str, Any]) -> None:
    assert delivery_of(skipped, resman_property_id=RESMAN_PROPERTY) is None


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({**message(), "data": "nope"}, "data"),
        (message(property_id=OTHER_PROPERTY), "property_id"),
        ({**message(), "data": {**message()["data"], "timestamp": "soon"}}, "timestamp"),
    ],
)
def test_unusable_staff_changes_are_refused_naming_the_field(
    bad: dict[str, Any], field: str
) -> None:
    with pytest.raises(MalformedWebhookError) as caught:
        delivery_of(bad, resman_property_id=RESMAN_PROPERTY)
    assert [e["field"] for e in caught.value.errors] == [field]


# --- against the database ----------------------------------------------------------------
class Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def keys() -> KeyRing:
    return KeyRing([generate_key().encode()])


async def jobs_and_inbox(
    session_factory: async_sessionmaker[AsyncSession],
) -> tuple[list[LeadSyncQueue], list[WebhookInbox]]:
    async with session_factory() as session:
        jobs = list((await session.scalars(select(LeadSyncQueue))).all())
        inbox = list((await session.scalars(select(WebhookInbox))).all())
    return jobs, inbox


async def test_a_replayed_message_queues_one_refresh(
    session_factory: async_sessionmaker[AsyncSession], keys: KeyRing
) -> None:
    async with session_factory() as session, session.begin():
        prop = await make_property(session)
        integration = await make_integration(session, property_id=prop.id)
    wakes = Wakes()
    feeds = FeedSubscriber(sessionmaker=session_factory, keys=keys, worker_wake=wakes)
    source = FeedSource(integration.id, RESMAN_PROPERTY, "ws://127.0.0.1:1/admin/feed")

    for raw in (
        json.dumps(message(origin="api", event_id="own-write")),
        json.dumps(message()),
        json.dumps(message()),  # the same change again after a reconnect
        "not json",
        json.dumps({"seq": 9, "type": "heartbeat"}),
    ):
        await feeds.handle(source, raw)

    jobs, inbox = await jobs_and_inbox(session_factory)
    assert [row.webhook_id for row in inbox] == ["chg-1"]
    assert inbox[0].integration_id == integration.id
    [job] = jobs
    assert job.sync_operation == "pull"
    assert job.integration_id == integration.id
    assert job.sync_data is not None
    assert job.sync_data["kind"] == "refresh"
    assert job.sync_data["prospect_id"] == "P-1"
    assert job.sync_data["inbox_id"] == str(inbox[0].id)
    assert job.sync_data["sync_type"] == "status_change"
    assert wakes.count == 1


async def test_sources_are_the_enabled_inbound_integrations_with_a_feed(
    session_factory: async_sessionmaker[AsyncSession], keys: KeyRing
) -> None:
    credentials = seal_json({"base_url": "http://127.0.0.1:8765", "api_key": "k"}, keys=keys)
    async with session_factory() as session, session.begin():
        made: dict[str, ResmanIntegration] = {}
        cases: list[tuple[str, dict[str, Any], bool, str]] = [
            ("derived", {"feed": True}, True, "bidirectional"),
            ("explicit", {"feed_url": "ws://127.0.0.1:9/f"}, True, "from_resman"),
            ("no_feed", {}, True, "bidirectional"),
            ("disabled", {"feed": True}, False, "bidirectional"),
            ("outbound_only", {"feed": True}, True, "to_resman"),
        ]
        for name, settings, enabled, direction in cases:
            prop = await make_property(session, name=name)
            integration = await make_integration(
                session, property_id=prop.id, credentials=credentials
            )
            integration.sync_settings = settings
            integration.sync_enabled = enabled
            integration.sync_direction = direction
            made[name] = integration
    feeds = FeedSubscriber(sessionmaker=session_factory, keys=keys, worker_wake=Wakes())

    found = {source.integration_id: source.url for source in await feeds.sources()}

    assert found == {
        made["derived"].id: f"ws://127.0.0.1:8765/admin/feed?property_id={RESMAN_PROPERTY}",
        made["explicit"].id: "ws://127.0.0.1:9/f",
    }


@pytest.fixture
def demo_settings(migrated_db_url: str, data_dir: Path) -> Settings:
    data_dir.mkdir(parents=True)
    return Settings(
        database_url=migrated_db_url,
        data_dir=data_dir,
        encryption_keys=SecretStr(generate_key()),
    )


async def test_the_demo_integration_follows_the_bundled_sandbox_feed(
    demo_settings: Settings,
) -> None:
    runtime = Runtime.build(demo_settings)
    try:
        for port in (8765, 8766):  # a restart may find the sandbox on another port
            async with runtime.sessionmaker() as session, session.begin():
                tenant = await ensure_demo_tenant(
                    session, runtime=runtime, sandbox_url=f"http://127.0.0.1:{port}"
                )
            [source] = await runtime.feeds.sources()
            assert source.integration_id == tenant.integration_id
            assert source.url == (
                f"ws://127.0.0.1:{port}/admin/feed?property_id={SANDBOX_PROPERTY_ID}"
            )
    finally:
        await runtime.close()
