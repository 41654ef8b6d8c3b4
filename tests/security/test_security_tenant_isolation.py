"""Tenant isolation, generated from the app's OpenAPI document and the WebSocket protocol:
every route and every client message type is probed with the API key of property B and the
ids of property A (see ``isolation_routes.py`` for how each one is filled). B must be
refused (403/404, or a list of its own), must see none of A's data, and must change nothing
of A's. A route or message type nobody described fails the test until it is described."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from leadsync.app import create_app
from leadsync.db.models import Conversation, LeadSyncQueue, ResmanIntegration, SyncConflict
from leadsync.realtime.protocol import CLOSE_FORBIDDEN, COMMAND_TYPES
from leadsync.sandbox.webhooks import generate_secret
from leadsync.security.crypto import open_json, seal_json
from security.isolation_routes import PATH_PARAMS, ROUTES, WS_MESSAGES, Probe, Route, World
from stack import (
    PATIENCE,
    Stack,
    Tenant,
    create_synced_lead,
    lead_body,
    signed_webhook,
    wait_until,
)

TABLE = "tests/security/isolation_routes.py"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
EMAIL, LAST_NAME, PHONE = "ondine.vexbridge@example.org", "Vexbridge", "7375550188"
METRICS_TOKEN = "operator-scrape-token-1f9c"


# --- the generated part ------------------------------------------------------------------
def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    """("METHOD /path", path, operation) for every operation of the OpenAPI document."""
    spec = create_app().openapi()
    return [
        (f"{method.upper()} {path}", path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _route(name: str, operation: dict[str, Any]) -> Route:
    route = ROUTES.get(name)
    assert route is not None, f"describe route {name} in {TABLE} (ROUTES)"
    keyed = any(p["in"] == "header" and p["name"] == "authorization" for p in _params(operation))
    assert keyed == (route.auth == "key"), (
        f"{name}: {TABLE} says auth={route.auth!r} but the OpenAPI document "
        f"{'does' if keyed else 'does not'} take an API key"
    )
    for param in _params(operation):
        if param["in"] == "path":
            assert param["name"] in PATH_PARAMS, (
                f"describe path parameter {param['name']} of {name} in {TABLE} (PATH_PARAMS)"
            )
    return route


def _params(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return list(operation.get("parameters", []))


def test_every_route_and_message_type_is_described() -> None:
    operations = _operations()
    for name, _, operation in operations:
        _route(name, operation)
    stale = set(ROUTES) - {name for name, _, _ in operations}
    assert not stale, f"{TABLE} describes routes the app no longer has: {sorted(stale)}"
    types = {"subscribe", *COMMAND_TYPES}
    missing = types - set(WS_MESSAGES)
    assert not missing, f"describe WebSocket message types {sorted(missing)} in {TABLE}"
    assert set(WS_MESSAGES) <= types, f"{TABLE} describes unknown message types"


# --- property A's world ------------------------------------------------------------------
async def _dead_job(stack: Stack) -> uuid.UUID:
    # An unknown TransactionSource makes ResMan refuse A's next lead for good: a dead letter.
    await stack.set_transaction_source(stack.a, "999999")
    body = lead_body(stack.a.property_id, n=2)
    body["lead_data"]["last_name"] = f"{LAST_NAME}Two"
    response = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
    assert response.status_code == 201, response.text
    job_id: uuid.UUID | None = None

    async def dead() -> bool:
        nonlocal job_id
        async with stack.runtime.sessionmaker() as session:
            job_id = await session.scalar(
                select(LeadSyncQueue.id).where(
                    LeadSyncQueue.integration_id == stack.a.integration_id,
                    LeadSyncQueue.state == "dead",
                )
            )
        return job_id is not None

    await wait_until(dead)
    assert job_id is not None
    return job_id


async def _set_webhook_secret(stack: Stack, tenant: Tenant) -> str:
    secret = generate_secret()
    async with stack.runtime.sessionmaker() as session, session.begin():
        row = await session.get_one(ResmanIntegration, tenant.integration_id)
        plain = open_json(row.api_credentials, keys=stack.runtime.keys)
        row.api_credentials = seal_json(
            {**plain, "webhook_secrets": [secret]}, keys=stack.runtime.keys
        )
        row.updated_at = datetime.now(UTC)
    return secret


async def _world(stack: Stack) -> World:
    body = lead_body(stack.a.property_id, n=1)
    body["lead_data"].update(last_name=LAST_NAME, email=EMAIL, phone="(737) 555-0188")
    conversation_id, prospect_id = await create_synced_lead(stack, stack.a, body)
    job_id = await _dead_job(stack)
    async with stack.runtime.sessionmaker() as session, session.begin():
        conflict = SyncConflict(
            conversation_id=conversation_id,
            integration_id=stack.a.integration_id,
            field="phone",
            base_value="+17375550188",
            domiq_value="+17375550100",
            resman_value="+17375550111",
        )
        session.add(conflict)
        await session.flush()
    await _set_webhook_secret(stack, stack.a)
    return World(
        property_id=stack.a.property_id,
        integration_id=stack.a.integration_id,
        resman_property_id=stack.a.resman_property_id,
        conversation_id=conversation_id,
        prospect_id=prospect_id,
        conflict_id=conflict.id,
        job_id=job_id,
        pii=(EMAIL, LAST_NAME, PHONE),
    )


def _leaks(world: World, answer: str, sent: str) -> list[str]:
    """A's strings in the answer that B did not send itself."""
    answer, sent = answer.lower(), sent.lower()
    return [s for s in world.private() if s.lower() in answer and s.lower() not in sent]


# --- HTTP --------------------------------------------------------------------------------
def _urls(path: str, world: World, probe: Probe) -> list[str]:
    names = [n.strip("{}") for n in path.split("/") if n.startswith("{")]
    choices = [PATH_PARAMS[n](world) for n in names]
    urls = []
    for values in itertools.product(*choices):
        url = path
        for name, value in zip(names, values, strict=True):
            url = url.replace(f"{{{name}}}", value)
        urls.append(f"{url}?{urlencode(probe.query)}" if probe.query else url)
    return urls


def _signed_by_b(world: World, secret_b: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "lead_id": world.prospect_id,
            "status": "lost",
            "updated_fields": {"status": "lost"},
            "timestamp": datetime.now(UTC).isoformat(),
            "updated_by": "Mallory",
            "sync_direction": "from_resman",
            "property_id": world.resman_property_id,
        }
    ).encode()
    return body, signed_webhook(body, secret=secret_b)


async def _send(
    stack: Stack, method: str, url: str, route: Route, probe: Probe, secret_b: str, world: World
) -> tuple[httpx2.Response, str]:
    if route.auth == "signed":
        body, headers = _signed_by_b(world, secret_b)
        url = f"{url}?{urlencode({'integration': str(world.integration_id)})}"
        answer = await stack.api.request(method, url, content=body, headers=headers)
        return answer, url + body.decode()
    headers = stack.auth(stack.b) if route.auth in ("key", "operator") else {}
    answer = await stack.api.request(method, url, json=probe.body, headers=headers)
    return answer, url + json.dumps(probe.body)


def _judge(name: str, route: Route, probe: Probe, answer: httpx2.Response) -> str | None:
    status = answer.status_code
    if route.auth in ("operator", "signed"):
        return None if status in (401, 403) else f"{name}: B was let in ({status})"
    if route.auth == "public" or probe.expect == "scoped":
        return None if status < 500 and status != 401 else f"{name}: answered {status}"
    return None if status in (403, 404) else f"{name}: B's key got {status}, not 403/404"


async def _probe_routes(stack: Stack, world: World, secret_b: str) -> list[str]:
    failures: list[str] = []
    for name, path, operation in _operations():
        route = _route(name, operation)
        method = name.split(" ", 1)[0]
        for probe in route.probes(world):
            for url in _urls(path, world, probe):
                answer, sent = await _send(stack, method, url, route, probe, secret_b, world)
                verdict = _judge(f"{method} {url}", route, probe, answer)
                failures += [verdict] if verdict else []
                leaked = _leaks(world, answer.text, sent)
                failures += [f"{method} {url}: B saw A's {leaked}"] if leaked else []
        if route.auth == "key":  # and without any key, nobody gets in
            url = _urls(path, world, route.probes(world)[0])[0]
            anonymous = await stack.api.request(method, url)
            if anonymous.status_code != 401:
                failures.append(f"{method} {url}: no key, answered {anonymous.status_code}")
    return failures


# --- WebSocket ---------------------------------------------------------------------------
def _ws_url(stack: Stack, property_id: uuid.UUID | None) -> str:
    base = str(stack.api.base_url).rstrip("/").replace("http", "ws", 1)
    query = f"?property_id={property_id}" if property_id else ""
    return f"{base}/api/resman/sync/websocket{query}"


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(PATIENCE):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] != "heartbeat":
                return message


async def _subscription_refusal(
    stack: Stack, world: World, first: dict[str, Any] | None
) -> tuple[int | None, str]:
    """Connect with B's key to A's property (in the URL, or in a first subscribe message):
    the close code (None: subscribed) and what was received."""
    url = _ws_url(stack, None if first else world.property_id)
    seen: list[str] = []
    async with connect(url, additional_headers=stack.auth(stack.b), proxy=None) as ws:
        if first is not None:
            await ws.send(json.dumps({"type": "subscribe", "data": first}))
        try:
            while True:  # a refusal may say why before it closes; "subscribed" is a breach
                message = await _recv(ws)
                seen.append(json.dumps(message))
                if message["type"] != "error":
                    return None, "".join(seen)
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), "".join(seen)


async def _probe_messages(stack: Stack, world: World) -> list[str]:
    failures: list[str] = []
    for data in WS_MESSAGES["subscribe"](world):
        for first in (None, data):
            code, seen = await _subscription_refusal(stack, world, first)
            if code != CLOSE_FORBIDDEN:
                failures.append(f"subscribe {first or 'in the URL'}: close {code}, not 4403")
            if leaked := _leaks(world, seen, json.dumps(data)):
                failures.append(f"subscribe: B saw A's {leaked}")
    url = _ws_url(stack, stack.b.property_id)
    async with connect(url, additional_headers=stack.auth(stack.b), proxy=None) as ws:
        assert (await _recv(ws))["type"] == "subscribed"
        sent = 0
        for message_type in COMMAND_TYPES:
            for data in WS_MESSAGES[message_type](world):
                sent += 1
                await ws.send(json.dumps({"type": message_type, "id": sent, "data": data}))
                answer = await _recv(ws)
                if answer["type"] != "error" or answer["data"]["status"] not in (403, 404):
                    failures.append(f"WS {message_type}: B's key got {answer}")
                if leaked := _leaks(world, json.dumps(answer), json.dumps(data)):
                    failures.append(f"WS {message_type}: B saw A's {leaked}")
        failures += await _no_events_of_a(stack, world, ws)
    return failures


async def _no_events_of_a(stack: Stack, world: World, ws: ClientConnection) -> list[str]:
    """A changes its lead, then B creates one: B's subscription sees B's lead and, before it
    (events are delivered in commit order), nothing of A's."""
    changed = await stack.api.patch(
        f"/api/resman/leads/{world.conversation_id}",
        json={"occupants_count": 3},
        headers=stack.auth(stack.a),
    )
    assert changed.status_code == 200, changed.text
    created = await stack.api.post(
        "/api/resman/leads", json=lead_body(stack.b.property_id, n=3), headers=stack.auth(stack.b)
    )
    assert created.status_code == 201, created.text
    mine = created.json()["conversation_id"]
    seen: list[str] = []
    while True:
        message = await _recv(ws)
        seen.append(json.dumps(message))
        if message["type"] == "new_lead" and message["data"]["conversation_id"] == mine:
            break
    leaked = _leaks(world, "".join(seen), "")
    return [f"WS events: B's subscription saw A's {leaked}"] if leaked else []


# --- the test ----------------------------------------------------------------------------
async def _untouched(stack: Stack, world: World) -> None:
    async with stack.runtime.sessionmaker() as session:
        conv = await session.get_one(Conversation, world.conversation_id)
        conflict = await session.get_one(SyncConflict, world.conflict_id)
        job = await session.get_one(LeadSyncQueue, world.job_id)
        leads_of_a = await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.property_id == world.property_id)
        )
    assert conv.move_in_date == date(2027, 1, 15)
    assert conv.status == "new"
    assert (conflict.status, job.state) == ("open", "dead")
    assert leads_of_a == 2, "B's key created a lead in A's property"


@pytest.mark.stack_settings(metrics_token=METRICS_TOKEN)
async def test_a_key_of_another_property_gets_nothing_of_it(stack: Stack) -> None:
    world = await _world(stack)
    secret_b = await _set_webhook_secret(stack, stack.b)
    failures = await _probe_routes(stack, world, secret_b)
    failures += await _probe_messages(stack, world)
    assert failures == [], "\n".join(failures)
    await _untouched(stack, world)
    # The probes themselves were sound: A's own key reaches what B could not.
    own = await stack.api.get(
        f"/api/resman/conflicts/{world.conflict_id}", headers=stack.auth(stack.a)
    )
    assert own.status_code == 200, own.text
