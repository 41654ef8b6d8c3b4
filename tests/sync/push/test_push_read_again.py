"""A search that meets a transient failure is tried once more within the same attempt
(resman/reads.py), so one flaky call no longer costs the whole push job an attempt and a
back-off; a 429 and a post are never tried again there. The sandbox's ``fail_first`` makes
exactly the first search fail; real client, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx2
import pytest

from factories import make_conversation
from leadsync.resman.errors import RateLimitedError
from leadsync.sync.push.plan import plan_push
from leadsync.sync.push.send import send_push
from leadsync.sync.queue.jobs import PushJob
from sync.sync_kit import Engine

SEARCH = "MITS/SearchProspects"


async def _faults(engine_kit: Engine, **config: Any) -> dict[str, Any]:
    async with httpx2.AsyncClient(base_url=engine_kit.sandbox_url, timeout=30) as admin:
        (await admin.put("/admin/faults", json=config)).raise_for_status()
        stats = (await admin.get("/admin/stats")).json()
    assert isinstance(stats, dict)
    return stats


async def _injected(engine_kit: Engine) -> int:
    async with httpx2.AsyncClient(base_url=engine_kit.sandbox_url, timeout=30) as admin:
        stats = (await admin.get("/admin/stats")).json()
    return sum(stats["faults_injected"].values())


async def _create_plan(engine_kit: Engine) -> Any:
    async with engine_kit.runtime.sessionmaker() as session, session.begin():
        conv = await make_conversation(session, property_id=engine_kit.property_id)
        conv.email = f"again.{uuid.uuid4().hex[:6]}@example.org"
        conv.phone = "+15125550142"
    async with engine_kit.runtime.sessionmaker() as session:
        return await plan_push(
            session,
            conversation_id=conv.id,
            integration_id=engine_kit.integration_id,
            job=PushJob(sync_type="create", fields={}, narrative={}),
        )


async def test_a_failed_search_is_tried_again_within_the_attempt(engine_kit: Engine) -> None:
    target = await engine_kit.target()  # its look-ups first, with no faults
    plan = await _create_plan(engine_kit)
    await _faults(engine_kit, fail_first=1, http_error_codes=[503], methods=[SEARCH])

    sent = await send_push(plan=plan, target=target)

    assert sent.result.action == "created"
    assert await _injected(engine_kit) == 1  # the email search failed once, then answered


async def test_a_429_is_not_tried_again(engine_kit: Engine) -> None:
    target = await engine_kit.target()
    plan = await _create_plan(engine_kit)
    await _faults(engine_kit, fail_first=1, http_error_codes=[429], methods=[SEARCH])

    with pytest.raises(RateLimitedError):
        await send_push(plan=plan, target=target)
    assert await _injected(engine_kit) == 1
