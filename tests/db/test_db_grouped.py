"""`leadsync.db.grouped`: calls that arrive together are handled together, each gets its own
outcome, and a failure or a cancelled caller stays where it belongs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from leadsync.db.grouped import Grouped


class Recorder:
    """A handler that records its groups; items < 0 fail alone, 999 fails the group."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        self.groups.append(list(items))
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if 999 in items:
            raise RuntimeError("the whole group failed")
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]


async def test_calls_arriving_together_form_one_group_each_with_its_outcome() -> None:
    handler = Recorder()
    grouped: Grouped[int, int] = Grouped(handler, max_group=64)
    results = await asyncio.gather(*(grouped.run(i) for i in range(1, 11)))
    assert results == [i * 10 for i in range(1, 11)]
    # The first call finds nothing running and starts the work; the group is made when it
    # runs, so all ten calls made in the same turn of the loop go together.
    assert handler.groups == [list(range(1, 11))]
    assert grouped.groups == 1


async def test_calls_arriving_while_a_group_runs_form_the_next_bounded_groups() -> None:
    handler = Recorder()
    handler.release = asyncio.Event()
    grouped: Grouped[int, int] = Grouped(handler, max_group=3)
    first = asyncio.create_task(grouped.run(1))
    await handler.started.wait()
    later = [asyncio.create_task(grouped.run(i)) for i in range(2, 9)]
    await asyncio.sleep(0)
    handler.release.set()
    assert await first == 10
    assert [await t for t in later] == [i * 10 for i in range(2, 9)]
    assert handler.groups == [[1], [2, 3, 4], [5, 6, 7], [8]]


async def test_an_item_that_fails_fails_alone_and_a_failing_group_fails_all_of_it() -> None:
    handler = Recorder()
    grouped: Grouped[int, int] = Grouped(handler, max_group=64)
    outcomes = await asyncio.gather(
        grouped.run(1), grouped.run(-2), grouped.run(3), return_exceptions=True
    )
    assert (outcomes[0], outcomes[2]) == (10, 30)
    assert isinstance(outcomes[1], ValueError)
    whole = await asyncio.gather(grouped.run(4), grouped.run(999), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in whole)
    # Work goes on after a failed group.
    assert await grouped.run(5) == 50


async def test_a_cancelled_caller_leaves_the_others_answered() -> None:
    handler = Recorder()
    handler.release = asyncio.Event()
    grouped: Grouped[int, int] = Grouped(handler, max_group=64)
    tasks = [asyncio.create_task(grouped.run(i)) for i in (1, 2, 3)]
    await handler.started.wait()
    tasks[1].cancel()
    handler.release.set()
    assert await tasks[0] == 10
    assert await tasks[2] == 30
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]
    assert handler.groups == [[1, 2, 3]]  # the cancelled caller's item was still handled
