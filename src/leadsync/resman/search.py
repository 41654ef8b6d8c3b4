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
from leadsync.resman.models import ProspectEntry
from leadsync.resman.wire import SEARCH_PROSPECTS, to_utc

Window = tuple[datetime, datetime]

ONE_SECOND = timedelta(seconds=1)
#: Turns of the event loop given to the search asked ahead before the caller goes on: the
#: client's connection check-out and its library's checkpoints take several before the
#: request is written (one turn: the 100,000-prospect re-pull took 7.9-8.9 s; eight: 7.7).
_SEND_TURNS = 8
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
) -> AsyncGenerator[ProspectEntry, None]:
    """Yield every prospect modified in [start, end), earliest window first, as an entry
    (read only as far as its id and digest until asked: see ``ProspectEntry``).

    Raises :class:`UnsplittableWindowError` for a window no wider than ``min_window`` that
    still overflows; everything before its ``start`` was yielded before the error. Other
    errors of the client propagate unchanged (the caller's cursor stays where its progress
    says). A prospect modified again during the scan may be seen twice (in its old and new
    window): consumers must be idempotent, as they are for overlapping polls anyway.

    While the caller stores one window's prospects, the next window is already being asked
    (one search ahead, never more): ResMan's answer time and ours overlap instead of adding
    up. Its answer, or its error, is only used once the earlier window is done, so the order
    and the error semantics above are unchanged; closing the iterator cancels it.

    Once a window has fitted, the next one asked is no wider than the stride it suggests
    (:class:`_Stride`): without it, every half left on the stack, twice as wide as the one
    before, overflowed again, and half the calls of a long pull were 502s.
    """
    if min_window <= timedelta(0):
        raise ValueError("min_window must be positive")
    lo, hi = align_window(start, end)
    # A stack with the earlier half on top keeps the search in window order without recursion.
    pending: list[Window] = [(lo, hi)] if lo < hi else []
    # The search of the window on top of ``pending``, asked while the previous one was stored.
    ahead: asyncio.Task[list[ProspectEntry]] | None = None
    windows_done = windows_split = yielded = 0
    stride = _Stride()
    try:
        while pending:
            window = pending.pop()
            try:
                if ahead is not None:
                    entries = await ahead
                else:
                    entries = await _search(client, creds, window)
            except WindowOverflowError as exc:
                _split_into(pending, window, min_window=min_window, overflow=exc)
                windows_split += 1
                continue
            finally:
                ahead = None
            stride.fitted(window, len(entries))
            if pending:
                stride.carve(pending)
                ahead = _ask_ahead(client, creds, pending[-1])
                # Let it send its request now: the caller may store the window without ever
                # yielding to the loop (SQLite runs on the loop's thread), and a search that
                # only starts when it is awaited overlaps nothing.
                for _ in range(_SEND_TURNS):
                    await asyncio.sleep(0)
            for entry in entries:
                yielded += 1
                yield entry
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


def _split_into(
    pending: list[Window], window: Window, *, min_window: timedelta, overflow: Exception
) -> None:
    """Push the halves of an overflowing window, the earlier on top; too narrow to halve:
    :class:`UnsplittableWindowError`."""
    if not can_split(*window, min_window):
        raise UnsplittableWindowError(start=window[0], end=window[1]) from overflow
    earlier, later = split_window(*window)
    pending.extend((later, earlier))


@dataclass(slots=True)
class _Stride:
    """How wide a window to ask next, learnt from the windows that fitted (ResMan does not
    say how many prospects a window may hold): as wide as the last one, or twice as wide
    when it held less than half the most any window has held (twice as many then still
    fits, at the same density). A window that overflows anyway is halved as before."""

    width: timedelta | None = None
    most: int = 0

    def fitted(self, window: Window, count: int) -> None:
        self.most = max(self.most, count)
        width = window[1] - window[0]
        self.width = 2 * width if 2 * count < self.most else width

    def carve(self, pending: list[Window]) -> None:
        """Split the window on top of ``pending`` so that its first part is one stride."""
        if self.width is None:
            return
        lo, hi = pending[-1]
        if hi - lo > self.width:
            pending[-1] = (lo + self.width, hi)
            pending.append((lo, lo + self.width))


async def _search(
    client: ProspectSearch, creds: ResManCredentials, window: Window
) -> list[ProspectEntry]:
    return await client.search_entries(
        creds=creds, modified_start=window[0], modified_end=window[1]
    )


def _ask_ahead(
    client: ProspectSearch, creds: ResManCredentials, window: Window
) -> asyncio.Task[list[ProspectEntry]]:
    """Start the next window's search before the current window's prospects are stored."""
    task = asyncio.create_task(_search(client, creds, window))
    # Its error is raised when its window's turn comes; when the caller stops first, it is
    # read here so asyncio never reports it as "never retrieved".
    task.add_done_callback(_retrieve)
    return task


def _retrieve(task: asyncio.Task[list[ProspectEntry]]) -> None:
    if not task.cancelled():
        task.exception()
