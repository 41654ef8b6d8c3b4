"""The LeadUpdateWebhook: delivered to a real receiver, signed per Standard Webhooks, retried,
and sent for staff changes only."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from leadsync.resman.models import CustomerType
from leadsync.sandbox import SandboxServer, seed
from sandbox.sandbox_kit import P1, create, lead, post
from stack import PATIENCE

SECRET = "whsec_" + base64.b64encode(b"leadsync-sandbox-test-secret!").decode()


@dataclass
class Receiver:
    url: str
    #: Statuses to answer with, in order; 204 once used up.
    plan: list[int] = field(default_factory=list)
    got: asyncio.Queue[tuple[bytes, dict[str, str]]] = field(default_factory=asyncio.Queue)

    async def next(self) -> tuple[bytes, dict[str, str]]:
        return await asyncio.wait_for(self.got.get(), timeout=PATIENCE)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = FastAPI()
    box: list[Receiver] = []

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        me = box[0]
        me.got.put_nowait((await request.body(), dict(request.headers)))
        return Response(status_code=me.plan.pop(0) if me.plan else 204)

    async with SandboxServer(app) as server:
        box.append(Receiver(url=f"{server.base_url}/hook"))
        yield box[0]


async def target(http: httpx2.AsyncClient, receiver: Receiver, secret: str | None = SECRET) -> Any:
    response = await http.put("/admin/webhook", json={"url": receiver.url, "secret": secret})
    assert response.status_code == 200, response.text
    return response.json()


async def test_staff_change_is_delivered_signed(
    http: httpx2.AsyncClient, receiver: Receiver
) -> None:
    await target(http, receiver)
    created = await create(http, lead())
    agent = seed.employee_id(P1, seed.EMPLOYEE_PROFILES[0][0])
    await http.post(
        f"/admin/properties/{P1}/prospects/{created.prospect_id}/status",
        json={"customer_type": "applicant", "comments": "Applied online", "agent_id": agent},
    )

    body, headers = await receiver.next()
    payload = Webhook(SECRET).verify(body, headers)

    assert headers["content-type"] == "application/json"
    assert payload["event_id"] == headers["webhook-id"]
    assert payload["lead_id"] == created.prospect_id
    assert payload["person_id"] == created.person_id
    assert (payload["property_id"], payload["account_id"]) == (P1, seed.SANDBOX_ACCOUNT_ID)
    assert (payload["status"], payload["sync_direction"]) == ("applicant", "from_resman")
    assert payload["updated_by"] == seed.EMPLOYEE_PROFILES[0][0]
    assert payload["updated_fields"]["status"] == "applicant"
    event = payload["updated_fields"]["event"]
    assert (event["type"], event["comments"], event["agent_name"]) == (
        "Application",
        "Applied online",
        seed.EMPLOYEE_PROFILES[0][0],
    )
    assert payload["timestamp"] == payload["modified_at"]


async def test_a_tampered_body_fails_verification(
    http: httpx2.AsyncClient, receiver: Receiver
) -> None:
    await target(http, receiver)
    created = await create(http, lead())
    await http.post(
        f"/admin/properties/{P1}/prospects/{created.prospect_id}/notes", json={"text": "Hi"}
    )
    body, headers = await receiver.next()
    Webhook(SECRET).verify(body, headers)

    tampered = body.replace(b'"Hi"', b'"Hello"')
    assert tampered != body
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, headers)
    wrong_secret = "whsec_" + base64.b64encode(b"another-secret-entirely!!").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(wrong_secret).verify(body, headers)


async def test_failed_delivery_is_retried_with_the_same_id(
    http: httpx2.AsyncClient, receiver: Receiver
) -> None:
    receiver.plan = [500, 503]
    await target(http, receiver)
    response = await http.post(
        f"/admin/properties/{P1}/prospects", json={"first_name": "Wes", "last_name": "Walker"}
    )

    attempts = [await receiver.next() for _ in range(3)]

    ids = {headers["webhook-id"] for _, headers in attempts}
    assert len(ids) == 1
    assert {body for body, _ in attempts} == {attempts[0][0]}
    for body, headers in attempts:
        Webhook(SECRET).verify(body, headers)
    payload = json.loads(attempts[0][0])
    assert payload["lead_id"] == response.json()["prospect_id"]
    assert payload["updated_fields"]["event"]["type"] == "WalkIn"
    assert payload["updated_by"] == "resman_user"
    stats = (await http.get("/admin/webhook")).json()
    assert (stats["delivered"], stats["attempts"], stats["failed"]) == (1, 3, 0)


async def test_wire_posts_send_no_webhook(http: httpx2.AsyncClient, receiver: Receiver) -> None:
    await target(http, receiver)
    created = await create(http, lead())
    ids = (created.prospect_id or "", created.person_id or "")
    await post(http, [lead(ids=ids, customer_type=CustomerType.APPLICANT)])
    await http.post(f"/admin/properties/{P1}/prospects/{ids[0]}/notes", json={"text": "staff"})

    body, _ = await receiver.next()

    assert json.loads(body)["updated_fields"]["event"]["comments"] == "staff"
    assert (await http.get("/admin/webhook")).json()["queued"] == 1


async def test_secret_is_generated_or_validated(
    http: httpx2.AsyncClient, receiver: Receiver
) -> None:
    generated = await target(http, receiver, secret=None)
    assert generated["secret"].startswith("whsec_")
    Webhook(generated["secret"])  # usable by a consumer as is
    bad = await http.put("/admin/webhook", json={"url": receiver.url, "secret": "whsec_%%%"})
    assert bad.status_code == 422
    off = await http.put("/admin/webhook", json={"url": None})
    assert off.json()["url"] is None
