"""`make run`'s demo traffic, at speed, twice (a second `make run` on the same database posts
the same people again): no dead letter, one prospect per person."""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from leadsync.db.models import Conversation, LeadLink, LeadSyncQueue
from leadsync.demo import drive_demo
from leadsync.sync.queue import repository as queue
from stack import Stack, wait_until


class _Enough(Exception):
    """Raised from the echo callback: stops the demo loop right after its n-th lead."""


async def _run_demo(stack: Stack, *, seed: int, leads: int) -> None:
    count = 0

    def echo(line: str) -> None:
        nonlocal count
        if line.startswith("demo: chatbot lead"):
            count += 1
            if count == leads:
                raise _Enough

    with contextlib.suppress(_Enough):
        await drive_demo(
            api_url=str(stack.api.base_url),
            api_key=stack.a.api_key,
            property_id=stack.a.property_id,
            interval=0,
            echo=echo,
            seed=seed,
        )


async def _drained(stack: Stack) -> bool:
    async with stack.runtime.sessionmaker() as session:
        counts = await queue.counts_by_state(session)
    return not counts.get("queued") and not counts.get("running")


async def test_demo_traffic_run_twice_leaves_no_dead_letter(stack: Stack) -> None:
    # The same seed: the second run posts the same people in new conversations.
    await _run_demo(stack, seed=11, leads=10)
    await _run_demo(stack, seed=11, leads=10)
    await wait_until(lambda: _drained(stack), within=120)

    async with stack.runtime.sessionmaker() as session:
        dead = (
            await session.execute(
                select(LeadSyncQueue.error_category, LeadSyncQueue.last_error).where(
                    LeadSyncQueue.state == "dead"
                )
            )
        ).all()
        conversations = (
            await session.scalars(select(Conversation.id).where(Conversation.source == "chatbot"))
        ).all()
        links = (
            await session.execute(select(LeadLink.conversation_id, LeadLink.resman_prospect_id))
        ).all()
    assert dead == []
    linked = dict(links)
    assert set(conversations) <= set(linked)
    assert None not in linked.values()
    prospects = await stack.resman_prospects(stack.a)
    # Every returning person is the prospect of the first run, never a second one.
    assert {p["prospect_id"] for p in prospects} == set(linked.values())
    assert len(conversations) == 20
    assert len(prospects) <= 10
