"""The webhook receiver over real HTTP (uvicorn on loopback) and a real database: signature
checks, the inbox, the queued refresh, and the parts of processing that need no ResMan."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import func, select, update

from factories import make_conversation, make_property
from leadsync.app import create_app
from leadsync.config import Settings
from leadsync.db.models import (
    Conversation,
    LeadLink,
    LeadSyncQueue,
    ResmanIntegration,
    WebhookInbox,
)
from leadsync.resman.client import ResManClient
from leadsync.resman.credentials import ResManCredentials
from leadsync.runtime import Runtime
from leadsync.sandbox.app import create_sandbox_app
from leadsync.sandbox.config import SandboxConfig
from leadsync.sandbox.seed import SANDBOX_ACCOUNT_ID, SANDBOX_API_KEY, SANDBOX_PARTNER_ID
from leadsync.sandbox.server import SandboxServer
from leadsync.sandbox.webhooks import generate_secret
from leadsync.security.crypto import generate_key, seal_json
from leadsync.sync.inbound.webhooks import (
    NOT_IN_RESMAN,
    OLDER_THAN_HELD,
    process_inbox_job,
    replay_parked,
)
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.jobs import RefreshJob
from stack import signed_webhook as signed

RESMAN_PROPERTY = "5b8a3b6e-2f3c-4a8e-9a51-2d1f6a7c9e01"
OTHER_RESMAN_PROPERTY = "c7d2e9f0-8b1a-4c3d-9e5f-6a7b8c9d0e12"
PATH = "/api/resman/webhooks/lead-update"
#: Nothing listens here: a test that must not reach ResMan fails loudly if it tries.
NOWHERE = "http://127.0.0.1:9"


def payload(
    lead_id: str = "4d1e7c52-0000-4000-8000-000000000001", **changes: Any
) -> dict[str, Any]:
    """The body the sandbox sends (the spec's fields plus its extras)."""
    body: dict[str, Any] = {
        "lead_id": lead_id,
        "status": "applicant",
        "updated_fields": {"status": "applicant", "event": {"type": "Application"}},
        "timestamp": "2026-11-20T15:04:05.123456+00:00",
        "updated_by": "Dana Agent",
        "sync_direction": "from_resman",
        "person_id": "9f0c1a2b-0000-4000-8000-000000000002",
        "property_id": RESMAN_PROPERTY,
        "account_id": 400,
        "event_id": "msg_x",
        "modified_at": "2026-11-20T15:04:05.123456+00:00",
    }
    body.update(changes)
    return body


def rejections(reason: str) -> float:
    value = REGISTRY.get_sample_value("leadsync_webhook_rejected_total", {"reason": reason})
    return value or 0.0


@dataclass
class Receiver:
    api: httpx2.AsyncClient
    runtime: Runtime
    integration_id: uuid.UUID
    property_id: uuid.UUID
    secret: str

    async def deliver(
        self,
        body: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        msg_id: str | None = None,
        when: datetime | None = None,
        integration: str | None = "self",
    ) -> httpx2.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = signed(raw, secret=secret or self.secret, msg_id=msg_id, when=when)
        params = {} if integration is None else {"integration": self._integration(integration)}
        return await self.api.post(PATH, content=raw, headers=headers, params=params)

    def _integration(self, value: str) -> str:
        return str(self.integration_id) if value == "self" else value

    async def set_secrets(self, secrets: list[str]) -> None:
        async with self.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(ResmanIntegration)
                .where(ResmanIntegration.id == self.integration_id)
                .values(api_credentials=_credentials(self.runtime, secrets))
            )

    async def counts(self) -> tuple[int, int]:
        """(inbox rows, queue jobs)."""
        async with self.runtime.sessionmaker() as session:
            inbox = await session.scalar(select(func.count()).select_from(WebhookInbox))
            jobs = await session.scalar(select(func.count()).select_from(LeadSyncQueue))
        return int(inbox or 0), int(jobs or 0)


def _credentials(runtime: Runtime, secrets: list[str] | None) -> dict[str, str]:
    plain: dict[str, Any] = {
        "base_url": NOWHERE,
        "account_id": 400,
        "partner_id": "partner",
        "api_key": "key",
    }
    if secrets is not None:
        plain["webhook_secrets"] = secrets
    return seal_json(plain, keys=runtime.keys)


@pytest.fixture
async def receiver(migrated_db_url: str, data_dir: Path) -> AsyncIterator[Receiver]:
    settings = Settings(
        database_url=migrated_db_url,
        data_dir=data_dir,
        encryption_keys=SecretStr(generate_key()),
    )
    runtime = Runtime.build(settings)
    secret = generate_secret()
    async with runtime.sessionmaker() as session, session.begin():
        prop = await make_property(session)
        integration = ResmanIntegration(
            id=uuid.uuid4(),
            property_id=prop.id,
            resman_property_id=RESMAN_PROPERTY,
            api_credentials=_credentials(runtime, [secret]),
        )
        session.add(integration)
    app = create_app(settings, runtime=runtime)
    try:
        async with (
            SandboxServer(app) as server,
            httpx2.AsyncClient(base_url=server.base_url, timeout=30) as api,
        ):
            yield Receiver(api, runtime, integration.id, prop.id, secret)
    finally:
        await runtime.close()


def assert_unauthorized(response: httpx2.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    # One answer whatever failed: it must not reveal which integrations exist.
    assert (problem["title"], problem["detail"]) == (
        "Unauthorized",
        "missing or invalid webhook signature",
    )


# --- accepted ----------------------------------------------------------------------------
async def test_signed_delivery_is_stored_and_a_refresh_queued(receiver: Receiver) -> None:
    body = payload(custom_note="kept as received")
    response = await receiver.deliver(body, msg_id="msg_first")
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": True, "webhook_id": "msg_first", "duplicate": False}
    async with receiver.runtime.sessionmaker() as session:
        inbox = (await session.scalars(select(WebhookInbox))).one()
        job = (await session.scalars(select(LeadSyncQueue))).one()
    assert (inbox.webhook_id, inbox.integration_id, inbox.state) == (
        "msg_first",
        receiver.integration_id,
        "pending",
    )
    assert inbox.payload == body  # raw, extras included
    assert inbox.processed_at is None
    assert (job.sync_operation, job.state, job.priority) == ("pull", "queued", 3)
    assert job.integration_id == receiver.integration_id
    assert job.conversation_id is None
    assert job.lead_key == f"resman:{body['lead_id']}"
    assert job.sync_data == {
        "kind": "refresh",
        "prospect_id": body["lead_id"],
        "inbox_id": str(inbox.id),
        "webhook_timestamp": "2026-11-20T15:04:05.123456+00:00",
        "sync_type": "status_change",
    }


async def test_linked_prospect_is_refreshed_in_order_with_its_pushes(receiver: Receiver) -> None:
    async with receiver.runtime.sessionmaker() as session, session.begin():
        conversation = await make_conversation(session, property_id=receiver.property_id)
        session.add(
            LeadLink(
                conversation_id=conversation.id,
                integration_id=receiver.integration_id,
                resman_prospect_id="P-linked",
            )
        )
    body = payload("P-linked", updated_fields={"email": "new@example.test"})
    assert (await receiver.deliver(body)).status_code == 202
    async with receiver.runtime.sessionmaker() as session:
        job = (await session.scalars(select(LeadSyncQueue))).one()
    assert job.lead_key == str(conversation.id)
    assert job.conversation_id == conversation.id
    assert job.sync_data is not None
    assert job.sync_data["sync_type"] == "update"


async def test_redelivery_is_acknowledged_and_changes_nothing(receiver: Receiver) -> None:
    body = payload()
    first = await receiver.deliver(body, msg_id="msg_again")
    # The sender retries with the same id and a fresh timestamp and signature.
    later = datetime.now(UTC) + timedelta(seconds=30)
    again = await receiver.deliver(body, msg_id="msg_again", when=later)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"accepted": True, "webhook_id": "msg_again", "duplicate": True}
    assert await receiver.counts() == (1, 1)


async def test_captured_delivery_replayed_verbatim_changes_nothing(receiver: Receiver) -> None:
    # An attacker who saw one delivery sends it again, byte for byte, within the tolerance.
    raw = json.dumps(payload()).encode()
    headers = signed(raw, secret=receiver.secret, msg_id="msg_captured")
    params = {"integration": str(receiver.integration_id)}
    first = await receiver.api.post(PATH, content=raw, headers=headers, params=params)
    replays = [await receiver.api.post(PATH, content=raw, headers=headers, params=params)]
    replays.append(await receiver.api.post(PATH, content=raw, headers=headers, params=params))
    assert first.status_code == 202, first.text
    assert [r.json() for r in replays] == [
        {"accepted": True, "webhook_id": "msg_captured", "duplicate": True}
    ] * 2
    assert await receiver.counts() == (1, 1)


async def test_concurrent_redeliveries_store_one(receiver: Receiver) -> None:
    body = payload()
    responses = await asyncio.gather(*(receiver.deliver(body, msg_id="msg_race") for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [202]
    assert await receiver.counts() == (1, 1)


async def test_timestamp_inside_the_tolerance_is_accepted(receiver: Receiver) -> None:
    four_minutes_ago = datetime.now(UTC) - timedelta(minutes=4)
    response = await receiver.deliver(payload(), when=four_minutes_ago)
    assert response.status_code == 202, response.text


async def test_every_secret_of_a_rotation_verifies(receiver: Receiver) -> None:
    old, new = generate_secret(), generate_secret()
    await receiver.set_secrets([old, new])
    assert (await receiver.deliver(payload(), secret=old)).status_code == 202
    assert (await receiver.deliver(payload(), secret=new)).status_code == 202
    assert_unauthorized(await receiver.deliver(payload(), secret=generate_secret()))
    assert await receiver.counts() == (2, 2)


async def test_a_retired_secret_stops_working_at_once(receiver: Receiver) -> None:
    old = receiver.secret
    assert (await receiver.deliver(payload(), secret=old)).status_code == 202  # now cached
    new = generate_secret()
    await receiver.set_secrets([new])
    assert_unauthorized(await receiver.deliver(payload(), secret=old))
    assert (await receiver.deliver(payload(), secret=new)).status_code == 202


# --- refused -----------------------------------------------------------------------------
def _resign(headers: dict[str, str], **changes: str | None) -> dict[str, str]:
    """``headers`` with some replaced (None: removed)."""
    out = dict(headers)
    for name, value in changes.items():
        if value is None:
            out.pop(name)
        else:
            out[name] = value
    return out


_BODY = json.dumps(payload()).encode()


def _bad_requests(secret: str) -> dict[str, tuple[bytes, dict[str, str]]]:
    good = signed(_BODY, secret=secret, msg_id="msg_ok")
    old = datetime.now(UTC) - timedelta(minutes=6)
    future = datetime.now(UTC) + timedelta(minutes=6)
    return {
        "wrong secret": (_BODY, signed(_BODY, secret=generate_secret())),
        "no signature header": (_BODY, _resign(good, **{"webhook-signature": None})),
        "no id header": (_BODY, _resign(good, **{"webhook-id": None})),
        "no timestamp header": (_BODY, _resign(good, **{"webhook-timestamp": None})),
        "no headers at all": (_BODY, {"content-type": "application/json"}),
        "body changed after signing": (_BODY.replace(b"applicant", b"lost"), good),
        "signature of another id": (_BODY, _resign(good, **{"webhook-id": "msg_other"})),
        "garbled signature": (_BODY, _resign(good, **{"webhook-signature": "v1"})),
        "signature not base64": (_BODY, _resign(good, **{"webhook-signature": "v1,@@@"})),
        "unknown version only": (_BODY, _resign(good, **{"webhook-signature": "v9,abcd"})),
        "timestamp not a number": (_BODY, _resign(good, **{"webhook-timestamp": "soon"})),
        "timestamp 6 minutes old": (_BODY, signed(_BODY, secret=secret, when=old)),
        "timestamp 6 minutes ahead": (_BODY, signed(_BODY, secret=secret, when=future)),
        "unsigned garbage": (b"\xff\xfenot json", {"content-type": "application/json"}),
        "garbage signed by a stranger": (b"{", signed(b"{", secret=generate_secret())),
    }


@pytest.mark.parametrize("case", sorted(_bad_requests(generate_secret())))
async def test_bad_signature_is_401_and_stores_nothing(receiver: Receiver, case: str) -> None:
    body, headers = _bad_requests(receiver.secret)[case]
    before = rejections("signature")
    response = await receiver.api.post(
        PATH, content=body, headers=headers, params={"integration": str(receiver.integration_id)}
    )
    assert_unauthorized(response)
    assert rejections("signature") == before + 1
    assert await receiver.counts() == (0, 0)


@pytest.mark.parametrize("integration", [str(uuid.uuid4()), "not-a-uuid", "", None])
async def test_unknown_integration_is_refused_like_a_bad_signature(
    receiver: Receiver, integration: str | None
) -> None:
    before = rejections("unknown_integration")
    response = await receiver.deliver(payload(), integration=integration)
    assert_unauthorized(response)
    assert rejections("unknown_integration") == before + 1
    assert await receiver.counts() == (0, 0)


async def test_another_integrations_secret_does_not_verify(receiver: Receiver) -> None:
    other_secret = generate_secret()
    async with receiver.runtime.sessionmaker() as session, session.begin():
        prop = await make_property(session, name="Elm Row")
        session.add(
            ResmanIntegration(
                id=uuid.uuid4(),
                property_id=prop.id,
                resman_property_id=OTHER_RESMAN_PROPERTY,
                api_credentials=_credentials(receiver.runtime, [other_secret]),
            )
        )
    assert_unauthorized(await receiver.deliver(payload(), secret=other_secret))
    assert await receiver.counts() == (0, 0)


@pytest.mark.parametrize("secrets", [None, [], ["not base64 at all!"]])
async def test_integration_without_a_usable_secret_refuses_everything(
    receiver: Receiver, secrets: list[str] | None
) -> None:
    async with receiver.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == receiver.integration_id)
            .values(api_credentials=_credentials(receiver.runtime, secrets))
        )
    assert_unauthorized(await receiver.deliver(payload()))
    assert await receiver.counts() == (0, 0)


def _without(key: str) -> dict[str, Any]:
    body = payload()
    del body[key]
    return body


_MALFORMED: dict[str, tuple[bytes, str]] = {
    "not JSON": (b"{not json", "body"),
    "NaN is not JSON": (b'{"lead_id": NaN}', "body"),
    "a list": (b"[1, 2]", "body"),
    "too deeply nested": (b"[" * 100_000 + b"]" * 100_000, "body"),
    "no lead_id": (json.dumps(_without("lead_id")).encode(), "lead_id"),
    "blank lead_id": (json.dumps(payload("   ")).encode(), "lead_id"),
    "numeric lead_id": (json.dumps({**payload(), "lead_id": 42}).encode(), "lead_id"),
    "no timestamp": (json.dumps(_without("timestamp")).encode(), "timestamp"),
    "timestamp without offset": (
        json.dumps(payload(timestamp="2026-11-20T15:04:05")).encode(),
        "timestamp",
    ),
    "timestamp not a time": (json.dumps(payload(timestamp="yesterday")).encode(), "timestamp"),
    "updated_fields not an object": (
        json.dumps(payload(updated_fields=["status"])).encode(),
        "updated_fields",
    ),
    "wrong direction": (json.dumps(payload(sync_direction="to_resman")).encode(), "sync_direction"),
    "NUL character": (json.dumps(payload(updated_by="Dana\u0000")).encode(), "body"),
    "NUL character deep down": (
        json.dumps(payload(updated_fields={"deep": "HERE"}))
        .replace('"HERE"', "[" * 950 + '"\\u0000"' + "]" * 950)
        .encode(),
        "body",
    ),
    "another ResMan property": (
        json.dumps(payload(property_id=OTHER_RESMAN_PROPERTY)).encode(),
        "property_id",
    ),
}


@pytest.mark.parametrize("case", sorted(_MALFORMED))
async def test_malformed_body_is_400_naming_the_field(receiver: Receiver, case: str) -> None:
    body, field = _MALFORMED[case]
    before = rejections("malformed")
    response = await receiver.deliver(body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field in {error["field"] for error in problem["errors"]}
    assert field in problem["detail"]
    assert rejections("malformed") == before + 1
    assert await receiver.counts() == (0, 0)


async def test_overlong_webhook_id_is_400(receiver: Receiver) -> None:
    response = await receiver.deliver(payload(), msg_id="m" * 201)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "webhook-id", "message": "at most 200 characters"}
    ]
    assert await receiver.counts() == (0, 0)


async def test_property_id_matches_whatever_its_case(receiver: Receiver) -> None:
    response = await receiver.deliver(payload(property_id=RESMAN_PROPERTY.upper()))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_413_and_stores_nothing(receiver: Receiver, chunked: bool) -> None:
    huge = json.dumps(payload(updated_fields={"notes": "x" * 300_000})).encode()
    headers = signed(huge, secret=receiver.secret)
    params = {"integration": str(receiver.integration_id)}

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(huge), 16_384):
            yield huge[start : start + 16_384]

    content: bytes | AsyncIterator[bytes] = stream() if chunked else huge
    response = await receiver.api.post(PATH, content=content, headers=headers, params=params)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "exceeds the limit of 262144 bytes" in response.json()["detail"]
    assert await receiver.counts() == (0, 0)


async def test_route_is_documented(receiver: Receiver) -> None:
    spec = (await receiver.api.get("/openapi.json")).json()
    operation = spec["paths"][PATH]["post"]
    assert {"202", "200", "400", "401", "413"} <= set(operation["responses"])
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"lead_id", "status", "updated_fields", "timestamp", "updated_by"} <= set(
        schema["required"]
    )
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    [query] = [p for p in operation["parameters"] if p["in"] == "query"]
    assert (query["name"], query["schema"]) == ("integration", {"type": "string", "format": "uuid"})


# --- processing without ResMan -----------------------------------------------------------
async def _run_job(receiver: Receiver, *, client: ResManClient, creds: ResManCredentials) -> str:
    """Claim the one queued job and process it the way the runner does: a session with no
    transaction open, committed after."""
    factory = receiver.runtime.sessionmaker
    async with factory() as session, session.begin():
        [job] = await queue.claim(session, worker_id="t", limit=1, lease=timedelta(seconds=60))
    async with factory() as session:
        integration = await session.get(ResmanIntegration, receiver.integration_id)
        assert integration is not None
        await session.commit()
        state = await process_inbox_job(
            session,
            job=RefreshJob.from_data(job.sync_data),
            integration=integration,
            client=client,
            creds=creds,
        )
        await session.commit()
    return state


async def _process(receiver: Receiver) -> str:
    creds = ResManCredentials(
        partner_id="partner", api_key="key", account_id=400, property_id=RESMAN_PROPERTY
    )
    async with ResManClient(base_url=NOWHERE) as client:
        return await _run_job(receiver, client=client, creds=creds)


async def _inbox(receiver: Receiver) -> WebhookInbox:
    async with receiver.runtime.sessionmaker() as session:
        return (await session.scalars(select(WebhookInbox))).one()


async def test_update_older_than_the_held_state_is_ignored(receiver: Receiver) -> None:
    held = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    async with receiver.runtime.sessionmaker() as session, session.begin():
        conversation = await make_conversation(session, property_id=receiver.property_id)
        session.add(
            LeadLink(
                conversation_id=conversation.id,
                integration_id=receiver.integration_id,
                resman_prospect_id="P-1",
                resman_modified_at=held,
            )
        )
    older = (held - timedelta(minutes=5)).isoformat()
    assert (await receiver.deliver(payload("P-1", modified_at=older))).status_code == 202
    # ResMan is unreachable: reaching it would fail the test; the guard must decide alone.
    assert await _process(receiver) == "ignored"
    inbox = await _inbox(receiver)
    assert (inbox.state, inbox.error) == ("ignored", OLDER_THAN_HELD)
    assert inbox.processed_at is not None


async def test_processing_refuses_a_session_inside_a_transaction(receiver: Receiver) -> None:
    assert (await receiver.deliver(payload())).status_code == 202
    factory = receiver.runtime.sessionmaker
    async with factory() as session, session.begin():
        [job] = await queue.claim(session, worker_id="t", limit=1, lease=timedelta(seconds=60))
        integration = await session.get(ResmanIntegration, receiver.integration_id)
        assert integration is not None
        creds = ResManCredentials(partner_id="p", api_key="k", account_id=400)
        async with ResManClient(base_url=NOWHERE) as client:
            with pytest.raises(RuntimeError, match="no transaction open"):
                await process_inbox_job(
                    session,
                    job=RefreshJob.from_data(job.sync_data),
                    integration=integration,
                    client=client,
                    creds=creds,
                )


async def test_integration_that_only_pushes_ignores_webhooks(receiver: Receiver) -> None:
    async with receiver.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ResmanIntegration)
            .where(ResmanIntegration.id == receiver.integration_id)
            .values(sync_direction="to_resman")
        )
    assert (await receiver.deliver(payload())).status_code == 202
    assert await _process(receiver) == "ignored"
    assert (await _inbox(receiver)).state == "ignored"


async def _park_all(receiver: Receiver) -> None:
    async with receiver.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(WebhookInbox).values(state="parked", error="not yet"))
        await session.execute(update(LeadSyncQueue).values(state="succeeded"))


async def _queued_inbox_ids(receiver: Receiver) -> list[str]:
    async with receiver.runtime.sessionmaker() as session:
        jobs = await session.scalars(
            select(LeadSyncQueue).where(LeadSyncQueue.state == "queued").order_by(LeadSyncQueue.seq)
        )
        return [str((job.sync_data or {})["inbox_id"]) for job in jobs]


async def test_replay_queues_each_parked_event_once(receiver: Receiver) -> None:
    for lead_id in ("P-1", "P-2", "P-1"):
        assert (await receiver.deliver(payload(lead_id))).status_code == 202
    await _park_all(receiver)
    async with receiver.runtime.sessionmaker() as session:
        rows = await session.execute(
            select(WebhookInbox.id, WebhookInbox.payload).order_by(WebhookInbox.received_at)
        )
        ids = [(str(i), p["lead_id"]) for i, p in rows.all()]
    factory = receiver.runtime.sessionmaker
    async with factory() as session, session.begin():
        assert (
            await replay_parked(
                session, integration_id=receiver.integration_id, prospect_ids={"P-1"}
            )
            == 2
        )
    assert await _queued_inbox_ids(receiver) == [i for i, lead in ids if lead == "P-1"]
    async with factory() as session, session.begin():
        # P-1's are pending again (not parked): only P-2 is left to replay.
        assert await replay_parked(session, integration_id=receiver.integration_id) == 1
        assert await replay_parked(session, integration_id=receiver.integration_id) == 0
    assert sorted(await _queued_inbox_ids(receiver)) == sorted(i for i, _ in ids)
    async with factory() as session:
        states = set((await session.scalars(select(WebhookInbox.state))).all())
    assert states == {"pending"}


async def test_concurrent_replays_queue_each_event_once(receiver: Receiver) -> None:
    for n in range(5):
        assert (await receiver.deliver(payload(f"P-{n}"))).status_code == 202
    await _park_all(receiver)

    async def replay() -> int:
        async with receiver.runtime.sessionmaker() as session, session.begin():
            return await replay_parked(session, integration_id=receiver.integration_id)

    counts = await asyncio.gather(*(replay() for _ in range(4)))
    assert sum(counts) == 5
    assert len(await _queued_inbox_ids(receiver)) == 5


async def test_replay_leaves_other_integrations_alone(receiver: Receiver) -> None:
    assert (await receiver.deliver(payload())).status_code == 202
    await _park_all(receiver)
    async with receiver.runtime.sessionmaker() as session, session.begin():
        assert await replay_parked(session, integration_id=uuid.uuid4()) == 0
    assert (await _inbox(receiver)).state == "parked"


# --- processing against the ResMan sandbox -----------------------------------------------
@pytest.fixture
async def resman() -> AsyncIterator[tuple[httpx2.AsyncClient, ResManClient]]:
    """The sandbox's admin API (to act as office staff) and a ResMan client to it."""
    async with (
        SandboxServer(create_sandbox_app(SandboxConfig())) as server,
        httpx2.AsyncClient(base_url=server.base_url, timeout=30) as admin,
        ResManClient(base_url=server.base_url) as client,
    ):
        yield admin, client


async def _process_with(receiver: Receiver, client: ResManClient) -> str:
    creds = ResManCredentials(
        partner_id=SANDBOX_PARTNER_ID,
        api_key=SANDBOX_API_KEY,
        account_id=SANDBOX_ACCOUNT_ID,
        property_id=RESMAN_PROPERTY,
    )
    return await _run_job(receiver, client=client, creds=creds)


async def test_prospect_resman_knows_is_applied(
    receiver: Receiver, resman: tuple[httpx2.AsyncClient, ResManClient]
) -> None:
    admin, client = resman
    walk_in = await admin.post(
        f"/admin/properties/{RESMAN_PROPERTY}/prospects",
        json={"first_name": "Lena", "last_name": "Park", "email": "lena.park@example.test"},
    )
    walk_in.raise_for_status()
    prospect_id = walk_in.json()["prospect_id"]
    # The body says "lost"; ResMan's current state (a new prospect) is what gets applied.
    body = payload(prospect_id, status="lost", updated_fields={"status": "lost"})
    assert (await receiver.deliver(body)).status_code == 202
    assert await _process_with(receiver, client) == "applied"
    inbox = await _inbox(receiver)
    assert (inbox.state, inbox.error) == ("applied", None)
    assert inbox.processed_at is not None
    async with receiver.runtime.sessionmaker() as session:
        link = await session.scalar(
            select(LeadLink).where(LeadLink.resman_prospect_id == prospect_id)
        )
        assert link is not None
        conversation = await session.get(Conversation, link.conversation_id)
    assert conversation is not None
    assert (conversation.source, conversation.status) == ("resman", "new")
    # ResMan was read after the webhook's change: we now hold at least that moment, so a
    # late delivery of anything older is settled without asking ResMan (unreachable here).
    assert link.resman_modified_at == datetime.fromisoformat(body["modified_at"])
    older = (link.resman_modified_at - timedelta(seconds=1)).isoformat()
    late = payload(prospect_id, modified_at=older, timestamp=older)
    assert (await receiver.deliver(late, msg_id="msg_late")).status_code == 202
    assert await _process(receiver) == "ignored"


async def test_prospect_resman_does_not_know_is_parked(
    receiver: Receiver, resman: tuple[httpx2.AsyncClient, ResManClient]
) -> None:
    _, client = resman
    assert (await receiver.deliver(payload(str(uuid.uuid4())))).status_code == 202
    assert await _process_with(receiver, client) == "parked"
    inbox = await _inbox(receiver)
    assert (inbox.state, inbox.error) == ("parked", NOT_IN_RESMAN)
    async with receiver.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0
