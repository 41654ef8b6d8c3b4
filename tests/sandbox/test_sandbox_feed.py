"""The change feed over a real WebSocket: per-property subscriptions, origins, order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from leadsync.resman.models import CustomerType
from leadsync.sandbox import SandboxConfig
from sandbox.sandbox_kit import P1, P2, create, lead, post
from stack import PATIENCE, wait_until


def feed_url(sandbox_url: str, property_id: str | None) -> str:
    query = f"?property_id={property_id}" if property_id else ""
    return f"{sandbox_url.replace('http', 'ws', 1)}/admin/feed{query}"


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=PATIENCE))
    return message


async def read_until_closed(ws: ClientConnection, *, into: list[dict[str, Any]]) -> None:
    while True:
        into.append(await receive(ws))


async def walk_in(http: httpx2.AsyncClient, prop: str, name: str) -> str:
    response = await http.post(
        f"/admin/properties/{prop}/prospects", json={"first_name": name, "last_name": "Doe"}
    )
    prospect_id: str = response.json()["prospect_id"]
    return prospect_id


async def test_property_subscription_sees_only_its_property(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    async with connect(feed_url(sandbox_url, P1)) as ws:
        await walk_in(http, P2, "Other")
        mine = await walk_in(http, P1, "Mine")

        message = await receive(ws)

    assert (message["type"], message["origin"]) == ("new_lead", "staff")
    assert (message["property_id"], message["prospect_id"]) == (P1, mine)
    assert message["data"]["lead_id"] == mine
    assert message["data"]["updated_fields"]["first_name"] == "Mine"


async def test_wire_and_staff_changes_are_told_apart_by_origin(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    async with connect(feed_url(sandbox_url, None)) as ws:
        created = await create(http, lead())
        ids = (created.prospect_id or "", created.person_id or "")
        await post(http, [lead(ids=ids, email="new@example.test")])
        await post(http, [lead(ids=ids, customer_type=CustomerType.LOST)])
        await http.post(f"/admin/properties/{P1}/prospects/{ids[0]}/reactivate", json={})
        other = await walk_in(http, P2, "Elsewhere")

        messages = [await receive(ws) for _ in range(5)]

    assert [(m["type"], m["origin"]) for m in messages] == [
        ("new_lead", "api"),
        ("lead_update", "api"),
        ("status_change", "api"),
        ("status_change", "staff"),
        ("new_lead", "staff"),
    ]
    assert [m["prospect_id"] for m in messages] == [ids[0]] * 4 + [other]
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs)
    changed = messages[1]["data"]["updated_fields"]
    assert (changed.pop("event")["type"], changed) == ("Other", {"email": "new@example.test"})
    assert messages[3]["data"]["status"] == "prospect"


async def test_unknown_property_is_refused(sandbox_url: str) -> None:
    for wrong in ("00000000-0000-4000-8000-000000000000", "not-a-guid"):
        with pytest.raises(InvalidStatus):
            async with connect(feed_url(sandbox_url, wrong)):
                pass


async def test_subscribers_are_counted_and_forgotten(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    async with connect(feed_url(sandbox_url, P1)), connect(feed_url(sandbox_url, P2)):
        assert (await http.get("/admin/stats")).json()["feed_subscribers"] == 2

    async def forgotten() -> bool:
        return bool((await http.get("/admin/stats")).json()["feed_subscribers"] == 0)

    await wait_until(forgotten, interval=0.02)


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(feed_queue_size=2)])
async def test_a_consumer_that_falls_behind_is_disconnected(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    async with connect(feed_url(sandbox_url, P1)) as ws:
        # One post of three prospects: three changes announced before the feed can send any.
        await post(http, [lead("A", "One"), lead("B", "Two"), lead("C", "Three")])
        received: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as info:
            await read_until_closed(ws, into=received)

    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1013
    assert len(received) <= 2
