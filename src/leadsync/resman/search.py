"""Stream every prospect modified in [start, end), splitting windows that overflow.

SearchProspects answers HTTP 502 "buffer overflow" when a modified window holds too many
prospects; the known remedy is to halve the window and query each half (docs/RESMAN_PROTOCOL.md).
Windows are searched earliest first, so prospects arrive in window order and the caller's
cursor can follow the progress. A window that still overflows once it is no wider than
``min_window`` (e.g. a bulk import stamped thousands of prospects with one timestamp) is
reported with :class:`UnsplittableWindowError`, never skipped silently.

Window bounds are truncated to whole UTC seconds, the wire's precision (see ``wire``), so the
halves of a split are exactly adjacent and no prospect falls between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import WindowOverflowError
from leadsync.resman.interface import ProspectSearch
from leadsync.resman.models import Prospect
from leadsync.resman.wire import SEARCH_PROSPECTS, to_utc

Window = tuple[datetime, datetime]

ONE_SECOND = timedelta(seconds=1)
DEFAULT_MIN_WINDOW = timedelta(minutes=1)


class UnsplittableWindowError(WindowOverflowError):
    """A window no wider than the minimum still overflows.

    Every prospect modified before ``start`` has already been yielded completely, so a caller's
    cursor may safely advance to ``start``; [start, end) itself was not read at all.
    """

    def __init__(self, *, start: datetime, end: datetime) -> None:
        super().__init__(
            f"{SEARCH_PROSPECTS}: window {start.isoformat()} .. {end.isoformat()} still "
            "overflows and is too narrow to split",
            method=SEARCH_PROSPECTS,
        )
        self.start = start
        self.end = end


@dataclass(frozen=True, slots=True)
class SearchProgress:
    """Where a windowed search stands (for a progress display)."""

    start: datetime
    end: datetime
    #: Everything modified in [start, completed_until) has been yielded.
    completed_until: datetime
    windows_done: int
    windows_split: int
    prospects_yielded: int

    @property
    def fraction_done(self) -> float:
        span = (self.end - self.start).total_seconds()
        done = (self.completed_until - self.start).total_seconds()
        return 1.0 if span <= 0 else min(1.0, done / span)


ProgressCallback = Callable[[SearchProgress], None]


def align_window(start: datetime, end: datetime) -> Window:
    """[start, end) in UTC truncated to whole seconds; refuses naive or reversed bounds."""
    lo, hi = to_utc(start), to_utc(end)
    if lo >= hi:
        raise ValueError("start must be before end")
    return lo.replace(microsecond=0), hi.replace(microsecond=0)


def split_window(start: datetime, end: datetime) -> tuple[Window, Window]:
    """Halve an aligned window at a whole second: ([start, mid), [mid, end))."""
    seconds = (end - start) // ONE_SECOND
    if seconds < 2:
        raise ValueError("a window narrower than two seconds cannot be split")
    mid = start + (seconds // 2) * ONE_SECOND
    return (start, mid), (mid, end)


def can_split(start: datetime, end: datetime, min_window: timedelta) -> bool:
    """Whether an overflowing window may be halved: wider than ``min_window`` and than 2 s."""
    width = end - start
    return width > min_window and width >= 2 * ONE_SECOND


async def search_window(
    *,
    client: ProspectSearch,
    creds: ResManCredentials,
    start: datetime,
    end: datetime,
    min_window: timedelta = DEFAULT_MIN_WINDOW,
    on_progress: ProgressCallback | None = None,
) -> AsyncGenerator[Prospect, None]:
    """Yield every prospect modified in [start, end), earliest window first.

    Raises :class:`UnsplittableWindowError` for a window no wider than ``min_window`` that
    still overflows; everything before its ``start`` was yielded before the error. Other
    errors of the client propagate unchanged (the caller's cursor stays where its progress
    says). A prospect modified again during the scan may be seen twice (in its old and new
    window): consumers must be idempotent, as they are for overlapping polls anyway.

    While the caller stores one window's prospects, the next window is already being asked
    (one search ahead, never more): ResMan's answer time and ours overlap instead of adding
    up. Its answer, or its error, is only used once the earlier window is done, so the order
    and the error semantics above are unchanged; closing the iterator cancels it.
    """
    if min_window <= timedelta(0):
        raise ValueError("min_window must be positive")
    lo, hi = align_window(start, end)
    # A stack with the earlier half on top keeps the search in window order without recursion.
    pending: list[Window] = [(lo, hi)] if lo < hi else []
    # The search of the window on top of ``pending``, asked while the previous one was stored.
    ahead: asyncio.Task[list[Prospect]] | None = None
    windows_done = windows_split = yielded = 0
    try:
        while pending:
            window = pending.pop()
            try:
                if ahead is not None:
                    prospects = await ahead
                else:
                    prospects = await _search(client, creds, window)
            except WindowOverflowError as exc:
                if not can_split(*window, min_window):
                    raise UnsplittableWindowError(start=window[0], end=window[1]) from exc
                earlier, later = split_window(*window)
                pending.extend((later, earlier))
                windows_split += 1
                continue
            finally:
                ahead = None
            if pending:
                ahead = _ask_ahead(client, creds, pending[-1])
            for prospect in prospects:
                yielded += 1
                yield prospect
            windows_done += 1
            if on_progress is not None:
                on_progress(
                    SearchProgress(
                        start=lo,
                        end=hi,
                        completed_until=window[1],
                        windows_done=windows_done,
                        windows_split=windows_split,
                        prospects_yielded=yielded,
                    )
                )
    finally:
        if ahead is not None:
            ahead.cancel()


async def _search(
    client: ProspectSearch, creds: ResManCredentials, window: Window
) -> list[Prospect]:
    return await client.search_prospects(
        creds=creds, modified_start=window[0], modified_end=window[1]
    )


def _ask_ahead(
    client: ProspectSearch, creds: ResManCredentials, window: Window
) -> asyncio.Task[list[Prospect]]:
    """Start the next window's search before the current window's prospects are stored."""
    task = asyncio.create_task(_search(client, creds, window))
    # Its error is raised when its window's turn comes; when the caller stops first, it is
    # read here so asyncio never reports it as "never retrieved".
    task.add_done_callback(_retrieve)
    return task


def _retrieve(task: asyncio.Task[list[Prospect]]) -> None:
    if not task.cancelled():
        task.exception()
