"""The admin client the product uses (leadsync.sandbox.admin_client), against a real sandbox."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest
from websockets.asyncio.client import connect

from leadsync.sandbox.admin_client import feed_url, open_admin
from sandbox.sandbox_kit import P1, create, lead


def test_feed_url_keeps_the_base_path_and_scheme() -> None:
    assert feed_url("https://relay.example/resman/", property_id="p 1") == (
        "https://relay.example/resman/admin/feed?property_id=p+1"
    )


async def test_feed_url_reaches_the_sandbox_feed(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    created = await create(http, lead())
    url = feed_url(sandbox_url, property_id=P1).replace("http", "ws", 1)
    async with connect(url) as ws, open_admin(sandbox_url) as admin:
        await admin.staff_action(
            property_id=P1, prospect_id=created.prospect_id or "", action="reactivate", body={}
        )
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))

    assert (message["origin"], message["prospect_id"]) == ("staff", created.prospect_id)


async def test_set_webhook_sets_and_clears_the_target(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    async with open_admin(sandbox_url) as admin:
        view = await admin.set_webhook(url="http://127.0.0.1:9/hook", secret=None)
        assert (await http.get("/admin/webhook")).json()["url"] == "http://127.0.0.1:9/hook"
        assert view["url"] == "http://127.0.0.1:9/hook"
        await admin.set_webhook(url=None)

    assert (await http.get("/admin/webhook")).json()["url"] is None


async def test_staff_action_returns_the_changed_prospect(
    http: httpx2.AsyncClient, sandbox_url: str
) -> None:
    created = await create(http, lead())
    async with open_admin(sandbox_url) as admin:
        prospect = await admin.staff_action(
            property_id=P1,
            prospect_id=created.prospect_id or "",
            action="notes",
            body={"text": "Prefers the top floor."},
        )

    assert prospect["prospect_id"] == created.prospect_id
    assert "Prefers the top floor." in json.dumps(prospect)


async def test_staff_action_refuses_unknown_actions_and_prospects(sandbox_url: str) -> None:
    async with open_admin(sandbox_url) as admin:
        with pytest.raises(ValueError, match="unknown staff action"):
            await admin.staff_action(property_id=P1, prospect_id="x", action="delete", body={})
        with pytest.raises(httpx2.HTTPStatusError) as caught:
            await admin.staff_action(
                property_id=P1, prospect_id="no-such-prospect", action="notes", body={"text": "x"}
            )

    assert caught.value.response.status_code == 404
