"""Simulated chatbot traffic for `leadsync up --demo`: realistic leads posted through the
public API (the same path DomIQ uses), with an occasional tour booking."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

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
SIZES = ["studio", "1br", "2br", "3br"]


def demo_lead(rng: random.Random, *, property_id: uuid.UUID, n: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    low = rng.randrange(900, 2200, 50)
    return {
        "conversation_id": str(uuid.uuid4()),
        "lead_data": {
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}.{n}@example.org".lower(),
            "phone": f"(512) 555-{rng.randrange(100, 9999):04d}",
            "property_id": str(property_id),
            "source": "chatbot",
            "initial_message": rng.choice(MESSAGES),
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


async def act_as_office(
    *,
    rng: random.Random,
    office: SandboxAdmin,
    api: httpx.AsyncClient,
    resman_property_id: str,
    leads: dict[str, str],
    echo: Callable[[str], None],
) -> None:
    """One staff action on a random synced lead, then what the chatbot now knows."""
    prospect_id, conversation_id = rng.choice(sorted(leads.items()))
    label, action, body = rng.choice(STAFF_ACTIONS)
    if action == "tours":
        start = datetime.now(UTC) + timedelta(days=rng.randrange(1, 7), hours=rng.randrange(1, 8))
        body = {"start": start.replace(minute=0, second=0, microsecond=0).isoformat()}
    await office.staff_action(
        property_id=resman_property_id, prospect_id=prospect_id, action=action, body=body
    )
    await asyncio.sleep(1.0)  # the signed webhook is applied within milliseconds
    context = (await api.get(f"/api/resman/leads/{conversation_id}/context")).json()
    resman = (context.get("context") or {}).get("resman") or {}
    tour = f", tour {resman['tour_time']}" if resman.get("tour_time") else ""
    echo(
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
) -> None:
    """Post a lead every ``interval`` seconds until cancelled; every third round the
    "office" acts on a synced lead in the sandbox, and the chatbot's context follows."""
    rng = random.Random(seed)  # demo data only
    headers = {"Authorization": f"Bearer {api_key}"}
    created: list[str] = []
    synced: dict[str, str] = {}
    async with (
        httpx.AsyncClient(base_url=api_url, headers=headers, timeout=15) as client,
        open_admin(sandbox_url or api_url, request_timeout=15) as office,
    ):
        n = 0
        while True:
            n += 1
            try:
                if sandbox_url and resman_property_id and synced and n % 3 == 0:
                    await act_as_office(
                        rng=rng,
                        office=office,
                        api=client,
                        resman_property_id=resman_property_id,
                        leads=synced,
                        echo=echo,
                    )
                elif created and rng.random() < 0.3:
                    conversation_id = rng.choice(created)
                    when = datetime.now(UTC) + timedelta(days=rng.randrange(1, 10), hours=2)
                    r = await client.post(
                        f"/api/resman/leads/{conversation_id}/tours",
                        json={"tour_datetime": when.replace(microsecond=0).isoformat()},
                    )
                    echo(
                        f"demo: tour booked for {conversation_id[:8]} -> "
                        f"{r.json().get('sync_status')}"
                    )
                else:
                    r = await client.post(
                        "/api/resman/leads", json=demo_lead(rng, property_id=property_id, n=n)
                    )
                    body = r.json()
                    created.append(body.get("conversation_id", ""))
                    if body.get("resman_lead_id"):
                        synced[body["resman_lead_id"]] = body["conversation_id"]
                    echo(
                        f"demo: chatbot lead {str(body.get('conversation_id'))[:8]} -> ResMan "
                        f"{body.get('resman_lead_id')} ({body.get('sync_status')})"
                    )
            except httpx.HTTPError as exc:
                echo(f"demo: request failed ({type(exc).__name__}); retrying")
            await asyncio.sleep(interval)
