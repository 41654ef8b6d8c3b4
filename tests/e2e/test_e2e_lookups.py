"""ResMan look-ups (GetProspectSources, GetLostProspectReasons) are fetched only where they
are needed and cached per integration: a pull calls neither lost reasons nor (once cached)
sources, and a failing look-up never fails a pull. Real sandbox, counted by its own stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from leadsync.db.models import LeadLink
from leadsync.db.session import read_session
from leadsync.resman.wire import GET_LOST_PROSPECT_REASONS, GET_PROSPECT_SOURCES
from stack import Stack, create_synced_lead, lead_body

LOOKUPS = [GET_PROSPECT_SOURCES, GET_LOST_PROSPECT_REASONS]


async def pull(stack: Stack, **params: str) -> dict[str, Any]:
    """The on-demand pull API for tenant a (the same path as the poller)."""
    response = await stack.api.get(
        "/api/resman/leads/pull",
        params={"property_id": str(stack.a.property_id), **params},
        headers=stack.auth(stack.a),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def linked(stack: Stack) -> int:
    async with read_session(stack.runtime.sessionmaker) as session:
        query = select(func.count()).where(LeadLink.integration_id == stack.a.integration_id)
        return int(await session.scalar(query) or 0)


async def calls(stack: Stack, method: str) -> int:
    stats = (await stack.sandbox.get("/admin/stats")).json()
    return int(stats["requests"].get(method, 0))


async def test_a_pull_needs_no_lost_reasons_and_survives_failing_lookups(stack: Stack) -> None:
    now = datetime.now(UTC)
    seeded = await stack.sandbox.post(
        f"/admin/properties/{stack.a.resman_property_id}/prospects/bulk",
        json={
            "count": 5,
            "modified_from": (now - timedelta(days=2)).isoformat(),
            "modified_to": now.isoformat(),
            "seed": 7,
        },
    )
    seeded.raise_for_status()
    await stack.set_faults(http_error_rate=1.0, http_error_codes=[500], methods=LOOKUPS)
    first = await pull(stack, date_from=(now - timedelta(days=3)).isoformat())
    assert first["sync_summary"]["new_leads"] == 5, first
    assert await linked(stack) == 5
    assert await calls(stack, GET_LOST_PROSPECT_REASONS) == 0, "a pull needs no lost reasons"

    # Once ResMan answers again, the source id is looked up once and then cached.
    await stack.set_faults(http_error_rate=0.0)
    for _ in range(3):
        await pull(stack)  # answers 200 (checked by the helper)
    sources_after_pulls = await calls(stack, GET_PROSPECT_SOURCES)
    assert await calls(stack, GET_LOST_PROSPECT_REASONS) == 0
    for n in range(3):
        await create_synced_lead(stack, stack.a, lead_body(stack.a.property_id, n=n))
    assert await calls(stack, GET_PROSPECT_SOURCES) == sources_after_pulls, "source cached"
    assert await calls(stack, GET_LOST_PROSPECT_REASONS) <= 1, "lost reasons cached"


async def test_pushes_keep_the_cached_lookups_while_a_refresh_fails(stack: Stack) -> None:
    await create_synced_lead(stack, stack.a, lead_body(stack.a.property_id, n=1))
    fetched = await calls(stack, GET_PROSPECT_SOURCES)
    await stack.set_faults(http_error_rate=1.0, http_error_codes=[500], methods=LOOKUPS)
    # Nothing is fetched again within the TTL: a look-up outage does not stop pushes.
    await create_synced_lead(stack, stack.a, lead_body(stack.a.property_id, n=2))
    assert await calls(stack, GET_PROSPECT_SOURCES) == fetched
