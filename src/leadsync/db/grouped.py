"""Grouped database work: calls that arrive while one group is being handled form the next.

A hot path that costs a transaction per request (a webhook delivery's inbox write, its
secret check) pays the transaction's fixed cost (a pool checkout, BEGIN, COMMIT, on SQLite
a turn of the single write lock) once per group instead. Nothing waits on a timer: a call
that finds nothing running is handled at once, alone; the ones that arrive meanwhile wait
for that to finish and then go together. Every caller gets its own outcome, and only after
the work that holds its item is done, so a group is as good as a call of its own that
started after the caller arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Handles a group: one outcome per item, in order (a result, or the exception that item
#: alone raises). An exception raised by the handler itself goes to every item of the group.
Handler = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class Grouped(Generic[T, R]):
    """Runs ``handle`` on groups of at most ``max_group`` items, one group at a time."""

    def __init__(self, handle: Handler[T, R], *, max_group: int) -> None:
        self._handle = handle
        self._max_group = max_group
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None
        #: Groups handled so far.
        self.groups = 0

    async def run(self, item: T) -> R:
        """``item``'s outcome, once the group holding it has been handled."""
        loop = asyncio.get_running_loop()
        if self._running is not None and self._running.get_loop() is not loop:
            # Used from a new event loop (tests): the old loop's work is gone with it.
            self._waiting, self._running = [], None
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        # A caller cancelled here leaves its item in the group: the work is still done.
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
                await self._one(group)
        except BaseException as exc:
            # Cancelled with the loop: nobody is left to handle the ones still waiting.
            for _, future in self._waiting:
                _fail(future, exc)
            self._waiting = []
            raise
        finally:
            self._running = None

    async def _one(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.groups += 1
        try:
            outcomes = await self._handle([item for item, _ in group])
        except BaseException as exc:
            for _, future in group:
                _fail(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Exception):
                _fail(future, outcome)
            elif not future.done():
                future.set_result(outcome)


def _fail(future: asyncio.Future[R], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)
