"""Simulated chatbot traffic for `leadsync up --demo`: realistic leads posted through the
public API (the same path DomIQ uses), with the cases a leasing office sees every day — people
who chat again, roommates who share a phone — tour bookings, and the "office" acting on synced
leads in the sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx2

from leadsync.sandbox.admin_client import SandboxAdmin, open_admin

FIRST = ["Maria", "James", "Aisha", "Wei", "Olivia", "Diego", "Priya", "Noah", "Fatima", "Liam"]
LAST = ["Gomez", "Smith", "Khan", "Chen", "Johnson", "Rossi", "Patel", "Brown", "Ali", "Nguyen"]
MESSAGES = [
    "Hi! Do you have any 2 bedrooms available in January?",
    "Is the gym open 24/7? Looking for a 1br.",
    "Do you allow dogs? I have a small terrier.",
    "What's the cheapest studio you have right now?",
    "Can I tour this weekend? Moving for a new job downtown.",
]
RETURNING_MESSAGES = [
    "Hi again! Is that 2br still available?",
    "Me again - can I move my tour to next week?",
    "Back with one more question: is parking included?",
]
SIZES = ["studio", "1br", "2br", "3br"]
#: The rest of a demo chat after the first message (issue 11: it reaches ResMan as a
#: transcript): (assistant answer, prospect follow-up) pairs, two of them per chat.
EXCHANGES = [
    ("Yes! We have a few that fit. When would you like to move in?", "Mid January, ideally."),
    ("Dogs are welcome: $35/month pet rent, no weight limit.", "Great, is there a dog park?"),
    ("Covered parking is $50/month; open spots are free.", "Open is fine. Any units near it?"),
    ("Tours run daily 9-6. Shall I book one?", "Saturday morning would be perfect."),
]
#: Of the rounds that post a lead: how often it is someone who chatted before, and how often
#: a new person on a phone number someone else already gave (a roommate, a parent). Each
#: shared phone is a duplicate_lead conflict for the office, and each returning person a
#: duplicate resolved by linking (leadsync_conflicts_total counts both), so these shares set
#: the demo's conflict rate against LeadSyncConflictRate's 10 % threshold.
RETURNING_SHARE = 0.2
SHARED_PHONE_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Person:
    first_name: str
    last_name: str
    email: str | None
    phone: str


@dataclass
class DemoStats:
    """What a demo run did, for its caller (a test checks it; `leadsync up` ignores it)."""

    rounds: int = 0
    new_people: int = 0
    returning: int = 0
    shared_phone: int = 0
    tours: int = 0
    office_actions: int = 0
    chat_messages: int = 0
    #: Every answer of the leads API, by HTTP status, and each one that was not a success.
    api_statuses: Counter[int] = field(default_factory=Counter)
    api_errors: list[str] = field(default_factory=list)
    #: Requests that got no answer at all (connection refused, reset, closed).
    unanswered: list[str] = field(default_factory=list)
    #: Office actions the sandbox refused (e.g. an application for a prospect already lost).
    office_refusals: list[str] = field(default_factory=list)


def new_person(rng: random.Random, *, n: int, phone: str | None = None) -> Person:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return Person(
        first_name=first,
        last_name=last,
        email=f"{first}.{last}.{n}@example.org".lower(),
        phone=phone or f"(512) 555-{rng.randrange(100, 9999):04d}",
    )


def roommate_of(rng: random.Random, other: Person, *, n: int) -> Person:
    """A different person (another first and last name) on ``other``'s phone number."""
    first = rng.choice([f for f in FIRST if f != other.first_name])
    last = rng.choice([name for name in LAST if name != other.last_name])
    return Person(first, last, f"{first}.{last}.{n}@example.org".lower(), other.phone)


def demo_lead(
    rng: random.Random, *, property_id: uuid.UUID, person: Person, returning: bool = False
) -> dict[str, Any]:
    """A new chat (a new conversation id) with ``person``."""
    low = rng.randrange(900, 2200, 50)
    return {
        "conversation_id": str(uuid.uuid4()),
        "lead_data": {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "phone": person.phone,
            "property_id": str(property_id),
            "source": "chatbot",
            "initial_message": rng.choice(RETURNING_MESSAGES if returning else MESSAGES),
            "lead_score": rng.randrange(20, 100),
            "move_in_date": (date.today() + timedelta(days=rng.randrange(14, 120))).isoformat(),
            "budget_range": {"min": low, "max": low + rng.randrange(100, 600, 50)},
            "apartment_size_preference": rng.choice(SIZES),
            "occupants_count": rng.randrange(1, 4),
            "has_pets": rng.random() < 0.4,
            "transcript_summary": "Qualified by the DomIQ chatbot (demo traffic).",
        },
    }


#: What the demo's "leasing office" does in the sandbox: (label, admin action, JSON body).
STAFF_ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "texted the prospect",
        "status",
        {"customer_type": "prospect", "event_type": "TextToProspect"},
    ),
    ("booked a tour", "tours", {}),
    ("added a note", "notes", {"text": "Prefers a unit away from the elevator."}),
    ("took an application", "status", {"customer_type": "applicant"}),
    ("marked the lead lost", "lost", {"reason": "Rented elsewhere"}),
]


@dataclass
class _Demo:
    """One demo run's clients, random source and memory of who chatted."""

    rng: random.Random
    api: httpx2.AsyncClient
    office: SandboxAdmin
    property_id: uuid.UUID
    resman_property_id: str | None
    echo: Callable[[str], None]
    settle: float
    stats: DemoStats = field(default_factory=DemoStats)
    people: list[Person] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    synced: dict[str, str] = field(default_factory=dict)

    def answered(self, response: httpx2.Response) -> dict[str, Any]:
        """Count the answer; its JSON body when it is a success (else an empty one)."""
        self.stats.api_statuses[response.status_code] += 1
        if not response.is_success:
            request = response.request
            error = f"{request.method} {request.url.path} -> {response.status_code}"
            self.stats.api_errors.append(f"{error}: {response.text[:300]}")
            self.echo(f"demo: {error}")
            return {}
        body: dict[str, Any] = response.json()
        return body

    async def round(self, n: int) -> None:
        if self.resman_property_id and self.synced and n % 3 == 0:
            await self.act_as_office()
        elif self.created and self.rng.random() < 0.3:
            await self.book_tour()
        else:
            await self.chat(n)

    def who_chats(self, n: int) -> tuple[Person, str]:
        roll = self.rng.random()
        if self.people and roll < RETURNING_SHARE:
            self.stats.returning += 1
            return self.rng.choice(self.people), "returning"
        if self.people and roll < RETURNING_SHARE + SHARED_PHONE_SHARE:
            self.stats.shared_phone += 1
            person = roommate_of(self.rng, self.rng.choice(self.people), n=n)
            return person, "shares a phone"
        self.stats.new_people += 1
        return new_person(self.rng, n=n), "new"

    async def chat(self, n: int) -> None:
        person, kind = self.who_chats(n)
        if kind != "returning":
            self.people.append(person)
        elif self.rng.random() < 1 / 3:
            # Back on the phone without giving the email again: same name, same number.
            person = dataclasses.replace(person, email=None)
        lead = demo_lead(
            self.rng, property_id=self.property_id, person=person, returning=kind == "returning"
        )
        body = self.answered(await self.api.post("/api/resman/leads", json=lead))
        if not body:
            return
        self.created.append(body["conversation_id"])
        if body.get("resman_lead_id"):
            self.synced[body["resman_lead_id"]] = body["conversation_id"]
        self.echo(
            f"demo: chatbot lead {body['conversation_id'][:8]} ({kind}) -> ResMan "
            f"{body.get('resman_lead_id')} ({body.get('sync_status')})"
        )
        await self.continue_chat(body["conversation_id"], lead["lead_data"]["initial_message"])

    async def continue_chat(self, conversation_id: str, first: str) -> None:
        """The chat's lines so far: they reach the prospect in ResMan as a transcript."""
        now = datetime.now(UTC).replace(microsecond=0)
        lines = [("prospect", first)]
        for answer, follow_up in self.rng.sample(EXCHANGES, 2):
            lines += [("assistant", answer), ("prospect", follow_up)]
        messages = [
            {
                "id": f"d{i}",
                "role": role,
                "text": text,
                "sent_at": (now + timedelta(seconds=20 * i)).isoformat(),
            }
            for i, (role, text) in enumerate(lines)
        ]
        response = await self.api.post(
            f"/api/resman/leads/{conversation_id}/messages", json={"messages": messages}
        )
        self.stats.chat_messages += int(self.answered(response).get("accepted") or 0)

    async def book_tour(self) -> None:
        conversation_id = self.rng.choice(self.created)
        when = datetime.now(UTC) + timedelta(days=self.rng.randrange(1, 10), hours=2)
        response = await self.api.post(
            f"/api/resman/leads/{conversation_id}/tours",
            json={"tour_datetime": when.replace(microsecond=0).isoformat()},
        )
        body = self.answered(response)
        self.stats.tours += 1
        self.echo(f"demo: tour booked for {conversation_id[:8]} -> {body.get('sync_status')}")

    async def act_as_office(self) -> None:
        """One staff action on a random synced lead, then what the chatbot now knows."""
        prospect_id, conversation_id = self.rng.choice(sorted(self.synced.items()))
        label, action, body = self.rng.choice(STAFF_ACTIONS)
        if action == "tours":
            start = datetime.now(UTC) + timedelta(
                days=self.rng.randrange(1, 7), hours=self.rng.randrange(1, 8)
            )
            body = {"start": start.replace(minute=0, second=0, microsecond=0).isoformat()}
        try:
            await self.office.staff_action(
                property_id=str(self.resman_property_id),
                prospect_id=prospect_id,
                action=action,
                body=body,
            )
        except httpx2.HTTPStatusError as refused:
            status = refused.response.status_code
            self.stats.office_refusals.append(f"{label}: {status}")
            self.echo(f"demo: the sandbox refused '{label}': {refused.response.text[:200]}")
            return
        self.stats.office_actions += 1
        # The signed webhook (or the change feed) brings the change over in milliseconds.
        await asyncio.sleep(self.settle)
        context = self.answered(await self.api.get(f"/api/resman/leads/{conversation_id}/context"))
        resman = (context.get("context") or {}).get("resman") or {}
        tour = f", tour {resman['tour_time']}" if resman.get("tour_time") else ""
        self.echo(
            f"demo: office {label} for {conversation_id[:8]} -> chatbot context: "
            f"status {context.get('status')}{tour}"
        )


async def drive_demo(
    *,
    api_url: str,
    api_key: str,
    property_id: uuid.UUID,
    interval: float = 3.0,
    echo: Callable[[str], None],
    seed: int | None = None,
    sandbox_url: str | None = None,
    resman_property_id: str | None = None,
    rounds: int | None = None,
    settle: float = 1.0,
) -> DemoStats:
    """Post a lead every ``interval`` seconds until cancelled (or for ``rounds`` rounds);
    every third round the "office" acts on a synced lead in the sandbox and, ``settle``
    seconds later, shows what the chatbot's context now says. ``interval=0, settle=0`` runs
    the same traffic at speed (the end-to-end test does)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        httpx2.AsyncClient(base_url=api_url, headers=headers, timeout=60) as api,
        open_admin(sandbox_url or api_url, request_timeout=60) as office,
    ):
        demo = _Demo(
            rng=random.Random(seed),  # demo data only
            api=api,
            office=office,
            property_id=property_id,
            resman_property_id=resman_property_id if sandbox_url else None,
            echo=echo,
            settle=settle,
        )
        while rounds is None or demo.stats.rounds < rounds:
            demo.stats.rounds += 1
            try:
                await demo.round(demo.stats.rounds)
            except httpx2.TransportError as exc:
                request = exc.request
                demo.stats.unanswered.append(
                    f"round {demo.stats.rounds}: {request.method} {request.url}: {exc!r}"
                )
                echo(f"demo: request failed ({type(exc).__name__}); retrying")
            await asyncio.sleep(interval)
    return demo.stats
