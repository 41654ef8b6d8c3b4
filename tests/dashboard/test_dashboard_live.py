"""The dashboard's live connection: the session cookie opens the WebSocket for the key's
properties only, and only from a page of the same host (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dashboard.pages import signed_in
from leadsync.api.sessions import COOKIE
from stack import PATIENCE, Stack, Tenant, lead_body


def _url(stack: Stack, tenant: Tenant) -> str:
    base = str(stack.api.base_url).rstrip("/").replace("http", "ws", 1)
    return f"{base}/api/resman/sync/websocket?property_id={tenant.property_id}"


async def _cookie(stack: Stack, tenant: Tenant) -> str:
    async with signed_in(stack, tenant) as client:
        value = client.cookies.get(COOKIE)
    assert value
    return value


def _headers(stack: Stack, cookie: str, *, origin: str | None = None) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={cookie}", "Origin": origin or str(stack.api.base_url).rstrip("/")}


async def _first(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(PATIENCE):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] != "heartbeat":
                return message


async def _close_code(ws: ClientConnection) -> int | None:
    try:
        async with asyncio.timeout(PATIENCE):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_the_session_cookie_subscribes_the_page(stack: Stack) -> None:
    cookie = await _cookie(stack, stack.a)
    async with connect(
        _url(stack, stack.a), additional_headers=_headers(stack, cookie), proxy=None
    ) as ws:
        assert (await _first(ws))["type"] == "subscribed"
        body = lead_body(stack.a.property_id)
        created = await stack.api.post("/api/resman/leads", json=body, headers=stack.auth(stack.a))
        assert created.status_code == 201
        event = await _first(ws)
        assert event["type"] == "new_lead"
        assert event["data"]["conversation_id"] == body["conversation_id"]


async def test_the_cookie_reaches_no_other_property_and_no_other_site(stack: Stack) -> None:
    cookie = await _cookie(stack, stack.a)
    async with connect(
        _url(stack, stack.b), additional_headers=_headers(stack, cookie), proxy=None
    ) as ws:
        assert await _close_code(ws) == 4403
    foreign = _headers(stack, cookie, origin="http://evil.example")
    async with connect(_url(stack, stack.a), additional_headers=foreign, proxy=None) as ws:
        assert await _close_code(ws) == 4401
    forged = _headers(stack, "gAAAAAforged")
    async with connect(_url(stack, stack.a), additional_headers=forged, proxy=None) as ws:
        assert await _close_code(ws) == 4401
