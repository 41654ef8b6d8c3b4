"""How soon a failed job is tried again (sync/queue/settle.py), on SQLite and PostgreSQL: a
create whose answer was lost waits for the duplicate check to be able to see it; a search
whose answer was lost changed nothing in ResMan and backs off as usual."""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from factories import make_integration, make_property
from leadsync.db.models import LeadSyncQueue
from leadsync.resman import wire
from leadsync.resman.errors import ResManConnectionError, ResManError, ResManTimeoutError
from leadsync.sync.queue import repository as queue
from leadsync.sync.queue.breaker import BreakerSettings
from leadsync.sync.queue.circuit import Attempt, Circuits
from leadsync.sync.queue.policy import RetryPolicy
from leadsync.sync.queue.settle import Settling, settle_failure

Sessions = async_sessionmaker[AsyncSession]
#: Back-off of 1-2 s for a first failure, against a 60 s floor after a lost write.
POLICY = RetryPolicy(base_seconds=2.0, cap_seconds=2.0, ambiguous_retry_floor=60.0)


async def _retry_in(session_factory: Sessions, exc: ResManError) -> float:
    """Seconds until the job is due again after failing with ``exc``."""
    async with session_factory() as session, session.begin():
        prop = await make_property(session)
        integration = await make_integration(session, property_id=prop.id)
        await queue.enqueue(
            session,
            integration_id=integration.id,
            conversation_id=None,
            lead_key=str(uuid.uuid4()),
            operation="push",
            data={},
        )
    async with session_factory() as session, session.begin():
        (job,) = await queue.claim(session, worker_id="w", limit=1, lease=timedelta(seconds=30))
    how = Settling(
        sessionmaker=session_factory,
        worker_id="w",
        policy=POLICY,
        circuits=Circuits(BreakerSettings()),
        rng=random.Random(1),
    )
    outcome = await settle_failure(
        how, job, exc, sync_type="create", started=time.perf_counter(), attempt=Attempt()
    )
    assert outcome.state == "retry"
    async with session_factory() as session:
        row = await session.get_one(LeadSyncQueue, job.id)
    return (row.next_retry_at - row.updated_at).total_seconds()


@pytest.mark.parametrize("error", [ResManTimeoutError, ResManConnectionError])
async def test_a_lost_answer_to_a_create_waits_for_the_floor(
    session_factory: Sessions, error: type[ResManError]
) -> None:
    delay = await _retry_in(session_factory, error("no answer", method=wire.POST_LEAD))
    assert delay >= POLICY.ambiguous_retry_floor


@pytest.mark.parametrize("error", [ResManTimeoutError, ResManConnectionError])
async def test_a_lost_answer_to_a_search_backs_off_as_usual(
    session_factory: Sessions, error: type[ResManError]
) -> None:
    delay = await _retry_in(session_factory, error("no answer", method=wire.SEARCH_PROSPECTS))
    assert delay <= POLICY.cap_seconds
