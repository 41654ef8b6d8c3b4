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

from collections.abc import AsyncIterator, Callable
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
) -> AsyncIterator[Prospect]:
    """Yield every prospect modified in [start, end), earliest window first.

    Raises :class:`UnsplittableWindowError` for a window no wider than ``min_window`` that
    still overflows; everything before its ``start`` was yielded before the error. Other
    errors of the client propagate unchanged (the caller's cursor stays where its progress
    says). A prospect modified again during the scan may be seen twice (in its old and new
    window): consumers must be idempotent, as they are for overlapping polls anyway.
    """
    if min_window <= timedelta(0):
        raise ValueError("min_window must be positive")
    lo, hi = align_window(start, end)
    # A stack with the earlier half on top keeps the search in window order without recursion.
    pending: list[Window] = [(lo, hi)] if lo < hi else []
    windows_done = windows_split = yielded = 0
    while pending:
        w_start, w_end = pending.pop()
        try:
            prospects = await client.search_prospects(
                creds=creds, modified_start=w_start, modified_end=w_end
            )
        except WindowOverflowError as exc:
            if not can_split(w_start, w_end, min_window):
                raise UnsplittableWindowError(start=w_start, end=w_end) from exc
            earlier, later = split_window(w_start, w_end)
            pending.extend((later, earlier))
            windows_split += 1
            continue
        for prospect in prospects:
            yielded += 1
            yield prospect
        windows_done += 1
        if on_progress is not None:
            on_progress(
                SearchProgress(
                    start=lo,
                    end=hi,
                    completed_until=w_end,
                    windows_done=windows_done,
                    windows_split=windows_split,
                    prospects_yielded=yielded,
                )
            )
