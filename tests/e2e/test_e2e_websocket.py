"""``WS /api/resman/sync/websocket`` end to end: real uvicorn, real WebSocket clients (the
``websockets`` library), the real API and sandbox, over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import func, select
from typer.testing import CliRunner
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from leadsync.cli import app
from leadsync.cli.watch import format_event, watch_events
from leadsync.db.models import Conversation, RealtimeEvent
from leadsync.events import publish
from stack import PATIENCE, Stack, Tenant, lead_body, synced_prospect

EVENTS = {"new_lead", "lead_update", "status_change", "sync_conflict"}
Message = dict[str, Any]


# --- helpers -----------------------------------------------------------------------------
def _url(stack: Stack, tenant: Tenant | None = None, **query: object) -> str:
    params = {"property_id": str(tenant.property_id)} if tenant else {}
    params.update({k: str(v) for k, v in query.items()})
    base = str(stack.api.base_url).rstrip("/").replace("http", "ws", 1)
    return f"{base}/api/resman/sync/websocket?{urlencode(params)}"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _recv(ws: ClientConnection) -> Message:
    """The next message that is not a heartbeat."""
    async with asyncio.timeout(PATIENCE):
        while True:
            message: Message = json.loads(await ws.recv())
            if message["type"] != "heartbeat":
                return message


async def _events_until(ws: ClientConnection, done: Callable[[Message], bool]) -> list[Message]:
    events: list[Message] = []
    while not events or not done(events[-1]):
        message = await _recv(ws)
        assert message["type"] in EVENTS, message
        events.append(message)
    return events


def _is_new_lead(conversation_id: str) -> Callable[[Message], bool]:
    return lambda m: m["type"] == "new_lead" and m["data"]["conversation_id"] == conversation_id


@contextlib.asynccontextmanager
async def _client(
    stack: Stack, tenant: Tenant, *, since: int | None = None
) -> AsyncIterator[ClientConnection]:
    query = {} if since is None else {"since": since}
    headers = _bearer(tenant.api_key)
    async with connect(_url(stack, tenant, **query), additional_headers=headers, proxy=None) as ws:
        hello = await _recv(ws)
        assert hello["type"] == "subscribed"
        assert hello["data"]["property_id"] == str(tenant.property_id)
        yield ws


async def _closed(ws: ClientConnection) -> tuple[int | None, list[Message]]:
    """Read to the end; the close code and what came before it."""
    seen: list[Message] = []
    try:
        async with asyncio.timeout(PATIENCE):
            while True:
                seen.append(json.loads(await ws.recv()))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), seen


async def _refusal(url: str, headers: dict[str, str]) -> tuple[int | None, list[Message]]:
    async with connect(url, additional_headers=headers, proxy=None) as ws:
        return await _closed(ws)


async def _create(stack: Stack, tenant: Tenant, n: int) -> str:
    response = await stack.api.post(
        "/api/resman/leads", json=lead_body(tenant.property_id, n=n), headers=stack.auth(tenant)
    )
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["conversation_id"]
    return conversation_id


async def _logged(stack: Stack, tenant: Tenant, *, after: int, upto: int) -> list[int]:
    async with stack.runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(RealtimeEvent.sequence)
            .where(RealtimeEvent.property_id == tenant.property_id)
            .where(RealtimeEvent.sequence > after, RealtimeEvent.sequence <= upto)
            .order_by(RealtimeEvent.sequence)
        )
        return list(rows)


# --- events ------------------------------------------------------------------------------
async def test_changes_of_a_lead_arrive_in_order(stack: Stack) -> None:
    moves = ["2027-02-01", "2027-03-01", "2027-04-01"]
    async with _client(stack, stack.a) as ws:
        lead = await _create(stack, stack.a, 1)
        for move_in in moves:
            response = await stack.api.patch(
                f"/api/resman/leads/{lead}",
                json={"move_in_date": move_in},
                headers=stack.auth(stack.a),
            )
            assert response.status_code == 200, response.text
        events = await _events_until(
            ws, lambda m: m["type"] == "lead_update" and m["data"]["move_in_date"] == moves[-1]
        )
    sequences = [m["sequence"] for m in events]
    assert sequences == sorted(set(sequences))
    mine = [m for m in events if m["data"]["conversation_id"] == lead]
    assert mine[0]["type"] == "new_lead"
    assert mine[0]["source"] == "domiq"
    dates = [m["data"]["move_in_date"] for m in mine]
    changes = [d for i, d in enumerate(dates) if i == 0 or d != dates[i - 1]]
    assert changes == ["2027-01-15", *moves]


async def test_a_reconnect_with_since_gets_what_it_missed_exactly_once(stack: Stack) -> None:
    async with _client(stack, stack.a) as ws:
        first = await _create(stack, stack.a, 1)
        last = (await _events_until(ws, _is_new_lead(first)))[-1]["sequence"]
    missed = [await _create(stack, stack.a, n) for n in (2, 3)]
    async with _client(stack, stack.a, since=last) as ws:
        live = await _create(stack, stack.a, 4)
        events = await _events_until(ws, _is_new_lead(live))
    sequences = [m["sequence"] for m in events]
    assert sequences == await _logged(stack, stack.a, after=last, upto=sequences[-1])
    new_leads = [m["data"]["conversation_id"] for m in events if m["type"] == "new_lead"]
    assert new_leads == [*missed, live]


async def test_a_client_never_sees_another_property(stack: Stack) -> None:
    url_b = _url(stack, stack.b, token=stack.b.api_key)  # the browser way: key in the query
    async with _client(stack, stack.a) as on_a, connect(url_b, proxy=None) as on_b:
        assert (await _recv(on_b))["type"] == "subscribed"
        of_b = await _create(stack, stack.b, 1)
        of_a = await _create(stack, stack.a, 2)
        # B's lead is older: had it leaked to A, A would receive it before its own.
        seen_by_a = await _events_until(on_a, _is_new_lead(of_a))
        seen_by_b = await _events_until(on_b, _is_new_lead(of_b))
    assert {m["property_id"] for m in seen_by_a} == {str(stack.a.property_id)}
    assert of_b not in {m["data"]["conversation_id"] for m in seen_by_a}
    assert {m["property_id"] for m in seen_by_b} == {str(stack.b.property_id)}


async def test_subscribe_by_message_when_the_url_names_no_property(stack: Stack) -> None:
    lead = await _create(stack, stack.a, 1)
    first = (await _logged(stack, stack.a, after=0, upto=10**9))[0]  # its new_lead
    async with connect(_url(stack), additional_headers=_bearer(stack.a.api_key), proxy=None) as ws:
        data = {"property_id": str(stack.a.property_id), "since": 0}
        await ws.send(json.dumps({"type": "subscribe", "data": data}))
        assert (await _recv(ws))["type"] == "subscribed"
        replayed = await _recv(ws)
        assert (replayed["sequence"], replayed["data"]["conversation_id"]) == (first, lead)
        await ws.send(json.dumps({"type": "subscribe", "id": "again", "data": data}))
        again = await _first(ws, "error")
    assert (again["id"], again["data"]["status"]) == ("again", 409)
    async with connect(_url(stack), additional_headers=_bearer(stack.a.api_key), proxy=None) as ws:
        await ws.send("[]")
        code, [error] = await _closed(ws)
    assert (code, error["data"]["status"]) == (4400, 400)
    stack.runtime.hub.config.subscribe_timeout_seconds = 0.05
    code, _ = await _refusal(_url(stack), _bearer(stack.a.api_key))
    assert code == 4400


async def test_resuming_from_a_purged_sequence_requires_a_resync(stack: Stack) -> None:
    for n in range(3):
        await _create(stack, stack.a, n)
    hub = stack.runtime.hub
    hub.config.retention_max_events = 1
    assert await hub.purge() > 0
    oldest, newest = await hub.log_bounds()
    async with connect(
        _url(stack, stack.a, since=0), additional_headers=_bearer(stack.a.api_key), proxy=None
    ) as ws:
        code, seen = await _closed(ws)
    assert code == 4410
    [resync] = seen
    assert resync["type"] == "resync_required"
    assert resync["data"] == {"since": 0, "oldest_sequence": oldest, "latest_sequence": newest}


async def test_heartbeats_then_a_clean_shutdown(stack: Stack) -> None:
    stack.runtime.hub.config.heartbeat_seconds = 0.05
    async with _client(stack, stack.a) as ws:
        beat = json.loads(await asyncio.wait_for(ws.recv(), timeout=PATIENCE))
        assert beat["type"] == "heartbeat"
        assert (beat["data"], beat["source"]) == ({"status": "ping"}, "system")
        await stack.runtime.hub.stop()
        code, _ = await _closed(ws)
    assert code == 1001
    code, _ = await _refusal(_url(stack, stack.a), _bearer(stack.a.api_key))
    assert code == 1001  # a stopping server sends newcomers elsewhere


# --- refusals ----------------------------------------------------------------------------
async def test_bad_credentials_and_scopes_are_refused_with_clear_codes(stack: Stack) -> None:
    url_a = _url(stack, stack.a)
    code, [error] = await _refusal(url_a, {})
    assert code == 4401
    assert (error["type"], error["data"]["status"]) == ("error", 401)
    code, _ = await _refusal(url_a, _bearer("lsk_notarealkey_0000000000000000"))
    assert code == 4401
    code, [error] = await _refusal(_url(stack, stack.b), _bearer(stack.a.api_key))
    assert code == 4403
    assert error["data"]["errors"][0]["field"] == "property_id"
    for query in (
        {"property_id": "not-a-uuid"},
        {"property_id": str(stack.a.property_id), "since": "-1"},
    ):
        url = f"{_url(stack)}{urlencode(query)}"
        code, _ = await _refusal(url, _bearer(stack.a.api_key))
        assert code == 4400


async def test_protocol_violations_close_and_bad_messages_get_errors(stack: Stack) -> None:
    for frame in ("not json", b"\x00binary", "x" * (stack.runtime.settings.max_body_bytes + 1)):
        async with _client(stack, stack.a) as ws:
            await ws.send(frame)
            code, _ = await _closed(ws)
        assert code == (1009 if len(frame) > 100 else 4400)
    body = lead_body(stack.a.property_id)
    body["lead_data"]["email"] = "not-an-email"
    async with _client(stack, stack.a) as ws:
        await ws.send("[1, 2]")
        assert (await _recv(ws))["data"]["status"] == 400
        await ws.send(json.dumps({"type": "bogus", "id": 1, "data": {}}))
        unknown = await _recv(ws)
        assert (unknown["id"], unknown["data"]["errors"][0]["field"]) == (1, "type")
        await ws.send(json.dumps({"type": "new_lead", "id": "bad", "data": body}))
        invalid = await _recv(ws)
    assert invalid["type"] == "error"
    assert invalid["id"] == "bad"
    assert invalid["data"]["status"] == 422
    assert [e["field"] for e in invalid["data"]["errors"]] == ["data.lead_data.email"]
    async with stack.runtime.sessionmaker() as session:
        written = await session.scalar(
            select(func.count()).where(Conversation.id == uuid.UUID(body["conversation_id"]))
        )
    assert written == 0


# --- client -> server --------------------------------------------------------------------
async def test_client_changes_go_through_the_queue_and_are_acked(stack: Stack) -> None:
    body = lead_body(stack.a.property_id)
    lead = body["conversation_id"]
    async with _client(stack, stack.a) as ws:
        await ws.send(json.dumps({"type": "new_lead", "id": "n1", "data": body}))
        ack = await _first(ws, "ack")  # after the new_lead event: it committed first
        assert ack["id"] == "n1"
        assert ack["data"]["conversation_id"] == lead
        # `pending` when the worker claimed the job before the inline attempt (a race).
        assert ack["data"]["sync_status"] in ("success", "pending")
        prospect_id = await synced_prospect(stack, lead)
        [prospect] = await stack.resman_prospects(stack.a)
        assert prospect["prospect_id"] == prospect_id
        if ack["data"]["sync_status"] == "success":
            assert ack["data"]["resman_lead_id"] == prospect_id
        change = {
            "lead_id": lead,
            "status": "qualified",
            "updated_by": "chatbot",
            "sync_direction": "to_resman",
        }
        await ws.send(json.dumps({"type": "status_change", "id": 2, "data": change}))
        # The event and the ack may come in either order: the hub and the reply race.
        seen = [await _recv(ws)]
        while not (
            any(m["type"] == "ack" for m in seen)
            and any(
                m["type"] == "status_change" and m["data"]["status"] == "qualified" for m in seen
            )
        ):
            seen.append(await _recv(ws))
        [status_ack] = [m for m in seen if m["type"] == "ack"]
        assert status_ack["id"] == 2
        assert status_ack["data"]["sync_status"] in ("success", "pending")
        other = await _create(stack, stack.b, 9)
        update = {"conversation_id": other, "lead_score": 1}
        await ws.send(json.dumps({"type": "lead_update", "id": 3, "data": update}))
        refused = await _first(ws, "error")
    assert (refused["id"], refused["data"]["status"]) == (3, 404)


async def _first(ws: ClientConnection, kind: str) -> Message:
    while (message := await _recv(ws))["type"] != kind:
        assert message["type"] in EVENTS, message
    return message


# --- back-pressure -----------------------------------------------------------------------
async def test_a_slow_client_is_dropped_while_others_keep_receiving(stack: Stack) -> None:
    hub = stack.runtime.hub
    hub.config.client_buffer = 8
    hub.config.close_timeout_seconds = 60.0  # the 4408 close must outwait the stalled socket
    address = urlsplit(str(stack.api.base_url))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window fills fast
    sock.connect((address.hostname or "127.0.0.1", address.port or 80))
    sock.setblocking(False)
    blob = "x" * 65_536
    headers = _bearer(stack.a.api_key)
    async with (
        connect(
            _url(stack, stack.a),
            sock=sock,
            additional_headers=headers,
            max_queue=1,
            compression=None,
            proxy=None,
        ) as slow,
        _client(stack, stack.a) as fast,
    ):
        assert (await _recv(slow))["type"] == "subscribed"  # and then it stops reading
        sent = 0
        while hub.overflows == 0:
            assert sent < 2_000, "the slow client was never dropped"
            async with stack.runtime.sessionmaker() as session, session.begin():
                for n in range(sent, sent + 4):
                    await _publish(session, stack.a, {"n": n, "blob": blob})
            got = [await _recv(fast) for _ in range(4)]
            assert [m["data"]["n"] for m in got] == list(range(sent, sent + 4))
            sent += 4
        async with stack.runtime.sessionmaker() as session, session.begin():
            await _publish(session, stack.a, {"n": sent})
        assert (await _recv(fast))["data"]["n"] == sent  # the fast client carries on
        code, seen = await _closed(slow)  # reading at last: its backlog, then the close
    assert code == 4408
    numbers = [m["data"]["n"] for m in seen]
    assert numbers == list(range(len(numbers)))  # in order, no gap, before the drop
    assert hub.overflows == 1


async def _publish(session: Any, tenant: Tenant, data: Message) -> None:
    await publish(
        session, property_id=tenant.property_id, event_type="lead_update", source="domiq", data=data
    )


# --- leadsync watch ----------------------------------------------------------------------
class _Proxy:
    """A TCP relay to the API that can cut every connection and refuse new ones."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.refusing = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> _Proxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65_536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_watch_resumes_after_a_dropped_connection(stack: Stack) -> None:
    port = urlsplit(str(stack.api.base_url)).port
    assert port is not None
    events: asyncio.Queue[Message] = asyncio.Queue()
    notices: list[str] = []
    watching = asyncio.Event()

    def notice(text: str) -> None:
        notices.append(text)
        if text.startswith("watching"):
            watching.set()

    async with _Proxy(port) as proxy:
        watcher = asyncio.create_task(
            watch_events(
                base_url=proxy.base_url,
                api_key=stack.a.api_key,
                property_id=stack.a.property_id,
                on_event=events.put_nowait,
                on_notice=notice,
                max_backoff=0.5,
            )
        )
        try:
            seen: list[Message] = []
            await asyncio.wait_for(watching.wait(), timeout=PATIENCE)
            first = await _create(stack, stack.a, 1)
            while not seen or not _is_new_lead(first)(seen[-1]):
                seen.append(await asyncio.wait_for(events.get(), timeout=PATIENCE))
            proxy.refusing = True
            proxy.cut()
            missed = await _create(stack, stack.a, 2)
            proxy.refusing = False
            while not _is_new_lead(missed)(seen[-1]):
                seen.append(await asyncio.wait_for(events.get(), timeout=PATIENCE))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    sequences = [m["sequence"] for m in seen]
    assert sequences == await _logged(stack, stack.a, after=0, upto=sequences[-1])
    assert sum(n.startswith("watching") for n in notices) >= 2  # it did reconnect
    line = format_event(seen[0])
    assert line.startswith(f"#{sequences[0]} ")
    assert f"lead={first}" in line


async def test_watch_command_stops_when_refused(stack: Stack) -> None:
    argv = ["watch", "--property", str(stack.b.property_id), "--url", str(stack.api.base_url)]
    result = await asyncio.to_thread(CliRunner().invoke, app, [*argv, "--key", stack.a.api_key])
    assert result.exit_code == 1
    assert "refused" in result.output
    assert stack.a.api_key not in result.output
