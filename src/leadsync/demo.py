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


async def drive_demo(
    *,
    api_url: str,
    api_key: str,
    property_id: uuid.UUID,
    interval: float = 3.0,
    echo: Callable[[str], None],
    seed: int | None = None,
) -> None:
    """Post a lead every ``interval`` seconds until cancelled."""
    rng = random.Random(seed)  # demo data only
    headers = {"Authorization": f"Bearer {api_key}"}
    created: list[str] = []
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=15) as client:
        n = 0
        while True:
            n += 1
            try:
                if created and rng.random() < 0.3:
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
                    echo(
                        f"demo: chatbot lead {str(body.get('conversation_id'))[:8]} -> ResMan "
                        f"{body.get('resman_lead_id')} ({body.get('sync_status')})"
                    )
            except httpx.HTTPError as exc:
                echo(f"demo: request failed ({type(exc).__name__}); retrying")
            await asyncio.sleep(interval)
