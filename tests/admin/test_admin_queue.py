"""Dead letters, replay, queue counts and the kill switch on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadsync.admin import AdminError, NotFoundError
from leadsync.admin.integrations import add_integration
from leadsync.admin.queue import dead_letters, list_queue, queue_stats, replay_dead
from leadsync.db.models import AppSetting, LeadSyncQueue
from leadsync.db.types import utcnow
from leadsync.security.crypto import KeyRing, generate_key
from leadsync.sync.queue import flags
from leadsync.sync.queue.repository import enqueue

LEAD_EMAIL = "jordan.prospect@example.com"


async def _integration(session: AsyncSession) -> uuid.UUID:
    integration = await add_integration(
        session,
        keys=KeyRing([generate_key().encode("ascii")]),
        property_id=uuid.uuid4(),
        resman_base_url="http://127.0.0.1:8765",
        account_id=1,
        resman_property_id="p-1",
        partner_id="partner",
        api_key="key-0123456789",
        webhook_secret=None,
    )
    return integration.id


async def _job(session: AsyncSession, integration_id: uuid.UUID, *, dead: bool) -> uuid.UUID:
    conversation_id = uuid.uuid4()
    job_id = await enqueue(
        session,
        integration_id=integration_id,
        conversation_id=conversation_id,
        lead_key=str(conversation_id),
        operation="push",
        data={"email": LEAD_EMAIL},
    )
    if dead:
        await session.execute(
            update(LeadSyncQueue)
            .where(LeadSyncQueue.id == job_id)
            .values(
                state="dead",
                retry_count=5,
                attempts=6,
                last_error="ResMan rejected the TransactionSource",
                error_category="transaction_source",
                dead_at=utcnow(),
            )
        )
    return job_id


async def _state(session: AsyncSession, job_id: uuid.UUID) -> tuple[str, int]:
    row = (
        await session.execute(
            select(LeadSyncQueue.state, LeadSyncQueue.retry_count).where(LeadSyncQueue.id == job_id)
        )
    ).one()
    return row.state, row.retry_count


async def test_dead_letters_are_listed_without_lead_data(session: AsyncSession) -> None:
    integration_id = await _integration(session)
    dead = await _job(session, integration_id, dead=True)
    await _job(session, integration_id, dead=False)
    await session.commit()

    [letter] = await dead_letters(session)
    assert letter["id"] == str(dead)
    assert letter["integration_id"] == str(integration_id)
    assert letter["error_category"] == "transaction_source"
    assert letter["last_error"] == "ResMan rejected the TransactionSource"
    assert (letter["retry_count"], letter["attempts"]) == (5, 6)
    assert letter["sync_operation"] == "push"
    assert letter["dead_at"] is not None
    assert letter["conversation_id"] is not None
    assert LEAD_EMAIL not in json.dumps(letter)


async def test_replay_of_chosen_dead_letters(session: AsyncSession) -> None:
    integration_id = await _integration(session)
    first = await _job(session, integration_id, dead=True)
    second = await _job(session, integration_id, dead=True)
    await session.commit()

    assert await replay_dead(session, job_ids=[first, first]) == [first]
    await session.commit()
    assert await _state(session, first) == ("queued", 0)
    assert await _state(session, second) == ("dead", 5)
    assert [d["id"] for d in await dead_letters(session)] == [str(second)]


async def test_replay_all(session: AsyncSession) -> None:
    integration_id = await _integration(session)
    ids = {await _job(session, integration_id, dead=True) for _ in range(3)}
    await session.commit()
    assert set(await replay_dead(session, job_ids=None)) == ids
    await session.commit()
    assert await dead_letters(session) == []


async def test_replay_refuses_unknown_or_live_jobs_and_changes_nothing(
    session: AsyncSession,
) -> None:
    integration_id = await _integration(session)
    dead = await _job(session, integration_id, dead=True)
    live = await _job(session, integration_id, dead=False)
    await session.commit()

    unknown = uuid.uuid4()
    with pytest.raises(NotFoundError, match=str(unknown)):
        await replay_dead(session, job_ids=[dead, unknown])
    with pytest.raises(AdminError, match=f"job {live} is queued, not dead"):
        await replay_dead(session, job_ids=[dead, live])
    await session.commit()
    assert await _state(session, dead) == ("dead", 5)


async def test_queue_stats_count_every_state(session: AsyncSession) -> None:
    assert await queue_stats(session) == {
        "queued": 0,
        "running": 0,
        "succeeded": 0,
        "dead": 0,
        "total": 0,
    }
    integration_id = await _integration(session)
    await _job(session, integration_id, dead=True)
    await _job(session, integration_id, dead=False)
    await _job(session, integration_id, dead=False)
    await session.commit()
    stats = await queue_stats(session)
    assert (stats["queued"], stats["dead"], stats["running"], stats["total"]) == (2, 1, 0, 3)


async def test_list_queue_filters_and_validates(session: AsyncSession) -> None:
    integration_id = await _integration(session)
    dead = await _job(session, integration_id, dead=True)
    queued = await _job(session, integration_id, dead=False)
    await session.commit()
    assert [j["id"] for j in await list_queue(session)] == [str(dead), str(queued)]
    assert [j["id"] for j in await list_queue(session, state="queued")] == [str(queued)]
    assert len(await list_queue(session, limit=1)) == 1
    with pytest.raises(AdminError, match="state must be one of"):
        await list_queue(session, state="lost")
    with pytest.raises(AdminError, match="limit"):
        await list_queue(session, limit=0)


async def test_kill_switch_is_stored_for_every_process(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The switch is read through a short per-process cache; start from a cold one.
    flags.reset_cache()
    assert await flags.push_paused(session) is False

    await flags.set_push_paused(session, paused=True, changed_by="cli:test")
    await session.commit()
    assert await flags.push_paused(session) is True
    row = await session.get(AppSetting, flags.KILL_SWITCH)
    assert row is not None
    assert (row.value, row.changed_by) == (True, "cli:test")

    await flags.set_push_paused(session, paused=False, changed_by="cli:test")
    await session.commit()
    assert await flags.push_paused(session) is False
