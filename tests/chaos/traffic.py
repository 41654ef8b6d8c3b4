"""The chaos suite's traffic: the chatbot (creates, repeats, changes, statuses), the leasing
office racing it in the sandbox, and a relay that records ResMan's staff webhooks on their way
to leadsync so they can be replayed, duplicated and reordered afterwards.

A chatbot that gets no answer (a killed process) or a clean 503 sends the same request again,
as a real client would: every call here is idempotent (the conversation id, the same field
value). Only a 2xx answer is a promise; the :class:`~chaos.invariants.Ledger` records those.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chaos.invariants import Ledger, Person

#: The longest a chatbot keeps sending one request again before it gives up (no promise).
GIVE_UP_SECONDS = 300.0
PROBLEM_JSON = "application/problem+json"


@dataclass
class Chatbot:
    """The DomIQ chatbot of one property, talking to leadsync's API."""

    api: httpx2.AsyncClient
    sandbox: httpx2.AsyncClient
    property_id: uuid.UUID
    resman_property_id: str
    rng: random.Random
    ledger: Ledger = field(default_factory=Ledger)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    #: Persons a returning conversation or a shared phone may reuse (never updated).
    plain: list[Person] = field(default_factory=list)

    async def call(self, method: str, url: str, body: dict[str, Any]) -> httpx2.Response | None:
        """Send until a final answer: 2xx or 4xx (returned), or None after GIVE_UP_SECONDS
        of dropped connections and clean 503s."""
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            try:
                answer = await self.api.request(method, url, json=body)
            except httpx2.TransportError as exc:
                self.ledger.answers[type(exc).__name__] += 1
                await asyncio.sleep(0.5)
                continue
            self.ledger.answers[str(answer.status_code)] += 1
            if answer.status_code < 500:
                if answer.status_code >= 400:
                    self.ledger.unclean.append(
                        f"{method} {url}: {answer.status_code} {answer.text}"
                    )
                return answer
            if answer.status_code != 503 or PROBLEM_JSON not in answer.headers.get(
                "content-type", ""
            ):
                self.ledger.unclean.append(f"{method} {url}: {answer.status_code} {answer.text}")
            await asyncio.sleep(0.5)
        return None

    def _new_person(self, i: int, *, phone: str | None = None) -> Person:
        last = f"Chaos{self.tag}{i}"
        return Person(
            email=f"chaos.{self.tag}.{i}@example.org",
            first_name="Robin",
            last_name=last,
            phone=phone or f"(512) {300 + i // 10000:03d}-{i % 10000:04d}",
            last_names={last},
        )

    def _body(self, person: Person) -> dict[str, Any]:
        return {
            "conversation_id": str(uuid.uuid4()),
            "lead_data": {
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": person.email,
                "phone": person.phone,
                "property_id": str(self.property_id),
                "source": "chatbot",
                "initial_message": "Is a 2br free in March?",
                "lead_score": 70,
            },
        }

    async def create(self, person: Person, body: dict[str, Any]) -> dict[str, Any] | None:
        answer = await self.call("POST", "/api/resman/leads", body)
        if answer is None or not answer.is_success:
            return None
        self.ledger.persons.setdefault(person.email, person)
        person.conversations.append(body["conversation_id"])
        created: dict[str, Any] = answer.json()
        return created

    async def lead(self, i: int) -> None:
        """One conversation: new, returning (every tenth) or sharing a phone (every
        twentieth); then maybe a repeat of the create, a rename and status changes (the
        shares are fixed by ``i`` so even a small run has each kind)."""
        if i % 10 == 5 and self.plain:
            person = self.rng.choice(self.plain)
            self.ledger.returning += 1
            await self.create(person, self._body(person))
            return
        shared = i % 20 == 7 and bool(self.plain)
        phone = self.rng.choice(self.plain).phone if shared else None
        person = self._new_person(i, phone=phone)
        self.ledger.shared_phones += shared
        body = self._body(person)
        created = await self.create(person, body)
        if created is None:
            return
        if i % 10 == 3:
            self.ledger.duplicates_sent += 1
            await self.call("POST", "/api/resman/leads", body)
        changes = self.rng.random()
        if changes < 0.5:
            self.plain.append(person)
            return
        conversation = body["conversation_id"]
        if changes < 0.8:
            await self.rename(person, conversation)
        await self.set_status(person, conversation, "contacted")
        prospect_id = await self.prospect_of(conversation) if changes > 0.85 else None
        if prospect_id:
            await self.race_office(person, conversation, prospect_id)
        else:
            await self.set_status(person, conversation, "qualified")

    async def prospect_of(self, conversation: str) -> str | None:
        """ResMan's id of the lead once pushed (the office can only edit what it sees);
        None when that takes over a minute (no race for this lead then)."""
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx2.TransportError):
                answer = await self.api.get(f"/api/resman/leads/{conversation}/context")
                if answer.is_success and answer.json().get("resman_lead_id"):
                    return str(answer.json()["resman_lead_id"])
            await asyncio.sleep(1.0)
        return None

    async def rename(self, person: Person, conversation: str) -> None:
        new = f"{person.last_name}-b"
        person.last_names.add(new)  # in doubt until the answer says
        answer = await self.call("PATCH", f"/api/resman/leads/{conversation}", {"last_name": new})
        if answer is not None and answer.is_success:
            person.last_name = new
            person.last_names = {new}

    async def set_status(self, person: Person, conversation: str, status: str) -> None:
        body = {"status": status, "updated_by": "chatbot", "sync_direction": "to_resman"}
        answer = await self.call("PUT", f"/api/resman/leads/{conversation}/status", body)
        if answer is not None and answer.is_success:
            person.chatbot_status = status

    async def race_office(self, person: Person, conversation: str, prospect_id: str) -> None:
        """The office makes the prospect an applicant while the chatbot renames the lead and
        marks it qualified (a lower status: it must not win)."""
        path = f"/admin/properties/{self.resman_property_id}/prospects/{prospect_id}/status"

        async def office() -> None:
            try:
                done = await self.sandbox.post(path, json={"customer_type": "applicant"})
            except httpx2.TransportError:
                return  # ResMan is away: the office could not work either
            if done.is_success:
                person.office_type = "applicant"
                self.ledger.office_edits += 1

        await asyncio.gather(
            office(),
            self.rename(person, conversation),
            self.set_status(person, conversation, "qualified"),
        )


@dataclass
class Delivery:
    webhook_id: str
    body: bytes


class WebhookRelay:
    """Between the sandbox and leadsync's receiver: forwards each staff webhook as is and
    keeps it for :meth:`replay`."""

    def __init__(self, *, secret: str) -> None:
        self.secret = secret
        self.target = ""
        self.kept: list[Delivery] = []
        self._client = httpx2.AsyncClient(timeout=30)
        self.app = Starlette(routes=[Route("/hook", self._forward, methods=["POST"])])

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.startswith("webhook-") or k == "content-type"
        }
        try:
            answer = await self._client.post(self.target, content=body, headers=headers)
        except httpx2.TransportError:
            return Response(status_code=502)  # leadsync is down: the sandbox retries
        if answer.is_success and headers.get("webhook-id"):
            self.kept.append(Delivery(headers["webhook-id"], body))
        return Response(answer.content, status_code=answer.status_code)

    def _signed(self, webhook_id: str, body: bytes) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(self.secret).sign(webhook_id, now, body.decode()),
            "content-type": "application/json",
        }

    async def replay(self, ledger: Ledger) -> None:
        """Every kept delivery again, newest first: once under its own id (a replay), once
        under a new id (the same event twice), once with its change stamped an hour back (an
        old event arriving late). Anything but 2xx or 4xx is unclean."""
        for delivery in reversed(self.kept):
            stale = json.loads(delivery.body)
            stamp = datetime.fromisoformat(str(stale.get("timestamp")).replace("Z", "+00:00"))
            stale["timestamp"] = (stamp - timedelta(hours=1)).isoformat()
            for webhook_id, body in (
                (delivery.webhook_id, delivery.body),
                (f"msg_{uuid.uuid4().hex}", delivery.body),
                (f"msg_{uuid.uuid4().hex}", json.dumps(stale).encode()),
            ):
                answer = await self._client.post(
                    self.target, content=body, headers=self._signed(webhook_id, body)
                )
                ledger.webhooks_replayed += 1
                ledger.answers[f"webhook {answer.status_code}"] += 1
                if answer.status_code >= 500:
                    ledger.unclean.append(f"webhook replay: {answer.status_code} {answer.text}")

    async def close(self) -> None:
        await self._client.aclose()
