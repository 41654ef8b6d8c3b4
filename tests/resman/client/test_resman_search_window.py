"""Window arithmetic and the splitting search's order, completeness and give-up point.

The search runs here against an in-memory ``ProspectSearch`` (pure logic, no HTTP); the
contract tests run it against the sandbox over real HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.resman.credentials import ResManCredentials
from leadsync.resman.errors import TransientError, WindowOverflowError
from leadsync.resman.models import Customer, Identification, Prospect, ProspectEntry
from leadsync.resman.search import (
    SearchProgress,
    UnsplittableWindowError,
    align_window,
    can_split,
    search_window,
    split_window,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CREDS = ResManCredentials(partner_id="p", api_key="k", account_id=1, property_id="prop")


class InMemorySearch:
    """Prospects at given modified times; overflows above ``threshold`` like ResMan."""

    def __init__(self, times: list[datetime], *, threshold: int) -> None:
        self.times = sorted(times)
        self.threshold = threshold
        self.windows: list[tuple[datetime, datetime]] = []
        self.fail_at: datetime | None = None

    async def search_entries(
        self, *, creds: ResManCredentials, modified_start: datetime, modified_end: datetime
    ) -> list[ProspectEntry]:
        assert creds is CREDS
        self.windows.append((modified_start, modified_end))
        hits = [t for t in self.times if modified_start <= t < modified_end]
        if len(hits) > self.threshold:
            raise WindowOverflowError("MITS/SearchProspects: HTTP 502 (buffer overflow)")
        if self.fail_at is not None and modified_start <= self.fail_at < modified_end:
            raise TransientError("MITS/SearchProspects: HTTP 503", status_code=503)
        return [ProspectEntry.of(_prospect(t)) for t in hits]


def _prospect(t: datetime) -> Prospect:
    ident = Identification("ProspectID", t.isoformat())
    return Prospect(customers=(Customer(identifications=(ident,)),))


def _time_of(p: ProspectEntry) -> datetime:
    assert p.prospect_id is not None
    return datetime.fromisoformat(p.prospect_id)


def test_align_truncates_to_whole_utc_seconds() -> None:
    plus2 = timezone(timedelta(hours=2))
    start = datetime(2024, 1, 1, 2, 0, 0, 900_000, tzinfo=plus2)
    end = datetime(2024, 1, 1, 1, 0, 5, 100_000, tzinfo=UTC)
    assert align_window(start, end) == (T0, T0 + timedelta(hours=1, seconds=5))


@pytest.mark.parametrize(
    ("start", "end"),
    [(T0, T0), (T0 + timedelta(seconds=1), T0), (datetime(2024, 1, 1), datetime(2024, 1, 2))],
)
def test_align_refuses_empty_reversed_or_naive(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match=r"before|timezone"):
        align_window(start, end)


@pytest.mark.parametrize(
    ("seconds", "mid"),
    [(3600, 1800), (3, 1), (2, 1), (113, 56), (86_401, 43_200)],
)
def test_split_at_whole_seconds_into_adjacent_halves(seconds: int, mid: int) -> None:
    end = T0 + timedelta(seconds=seconds)
    (a_start, a_end), (b_start, b_end) = split_window(T0, end)
    assert (a_start, a_end, b_start, b_end) == (T0, T0 + timedelta(seconds=mid), a_end, end)


def test_split_refuses_a_one_second_window() -> None:
    with pytest.raises(ValueError, match="two seconds"):
        split_window(T0, T0 + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("width", "min_window", "expected"),
    [
        (timedelta(minutes=2), timedelta(minutes=1), True),
        (timedelta(seconds=61), timedelta(minutes=1), True),
        (timedelta(minutes=1), timedelta(minutes=1), False),
        (timedelta(seconds=30), timedelta(minutes=1), False),
        (timedelta(seconds=2), timedelta(seconds=1), True),
        (timedelta(seconds=1), timedelta(milliseconds=1), False),
    ],
)
def test_can_split(width: timedelta, min_window: timedelta, expected: bool) -> None:
    assert can_split(T0, T0 + width, min_window) is expected


async def _collect(
    api: InMemorySearch,
    *,
    into: list[ProspectEntry] | None = None,
    min_window: timedelta = timedelta(minutes=1),
    on_progress: Callable[[SearchProgress], None] | None = None,
) -> list[ProspectEntry]:
    """Everything the search over [T0, T0+1h) yields (also appended to ``into`` as it comes)."""
    got = into if into is not None else []
    async for p in search_window(
        client=api,
        creds=CREDS,
        start=T0,
        end=T0 + timedelta(hours=1),
        min_window=min_window,
        on_progress=on_progress,
    ):
        got.append(p)
    return got


async def test_overflowing_window_is_split_and_streamed_in_order_exactly_once() -> None:
    times = [T0 + timedelta(seconds=7 * i) for i in range(500)]  # 58 min 13 s of data
    api = InMemorySearch(times, threshold=40)
    progress: list[SearchProgress] = []
    got = await _collect(api, on_progress=progress.append)
    assert [_time_of(p) for p in got] == times
    assert progress[-1].prospects_yielded == 500
    assert progress[-1].completed_until == T0 + timedelta(hours=1)
    assert progress[-1].fraction_done == 1.0
    assert progress[-1].windows_split == len(api.windows) - progress[-1].windows_done
    cursors = [p.completed_until for p in progress]
    assert cursors == sorted(cursors)
    # The windows that answered tile [T0, T0+1h) with no gap and no overlap.
    answered = [w for w in api.windows if sum(w[0] <= t < w[1] for t in times) <= 40]
    assert answered[0][0] == T0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(answered))


async def test_once_a_window_fits_the_next_are_asked_one_stride_wide() -> None:
    times = [T0 + timedelta(seconds=3 * i) for i in range(1200)]  # uniform: 20 a minute
    api = InMemorySearch(times, threshold=100)
    progress: list[SearchProgress] = []
    got = await _collect(api, on_progress=progress.append)
    assert [_time_of(p) for p in got] == times
    # Halving alone overflows once per window read (2 * windows - 1 calls); the stride
    # learnt from the first window that fits leaves only the first descent's overflows.
    assert progress[-1].windows_done >= 12
    assert progress[-1].windows_split <= 4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3599), max_size=400),
    st.integers(min_value=5, max_value=60),
)
async def test_any_spread_of_prospects_is_read_in_order_exactly_once(
    seconds: list[int], threshold: int
) -> None:
    """Dense and sparse stretches in any order: the stride grows, shrinks and overflows,
    and still every prospect comes once, in window order."""
    times = sorted(T0 + timedelta(seconds=s) for s in seconds)
    api = InMemorySearch(times, threshold=threshold)
    if max(Counter(seconds).values(), default=0) > threshold:  # a second no split can part
        with pytest.raises(UnsplittableWindowError):
            await _collect(api, min_window=timedelta(seconds=1))
        return
    got = await _collect(api, min_window=timedelta(seconds=1))
    assert [_time_of(p) for p in got] == times


async def test_window_that_fits_is_one_query() -> None:
    api = InMemorySearch([T0, T0 + timedelta(minutes=59, seconds=59)], threshold=2)
    assert len(await _collect(api)) == 2
    assert api.windows == [(T0, T0 + timedelta(hours=1))]


async def test_unsplittable_window_is_reported_after_the_earlier_windows() -> None:
    early = [T0 + timedelta(minutes=m) for m in range(10)]
    crowd = [T0 + timedelta(minutes=40)] * 30  # one timestamp, above the threshold
    later = [T0 + timedelta(minutes=50)]
    api = InMemorySearch(early + crowd + later, threshold=20)
    yielded: list[ProspectEntry] = []
    with pytest.raises(UnsplittableWindowError) as info:
        await _collect(api, into=yielded)
    seen = [_time_of(p) for p in yielded]
    err = info.value
    assert isinstance(err, WindowOverflowError)
    assert err.start <= crowd[0] < err.end
    assert err.end - err.start <= timedelta(minutes=1)
    # Everything before err.start was yielded, nothing at or after it.
    assert seen == [t for t in early if t < err.start]
    assert seen == early


async def test_min_window_bounds_the_splitting() -> None:
    crowd = [T0 + timedelta(minutes=40)] * 5
    api = InMemorySearch(crowd, threshold=1)
    with pytest.raises(UnsplittableWindowError) as info:
        await _collect(api, min_window=timedelta(minutes=20))
    assert info.value.end - info.value.start <= timedelta(minutes=20)
    assert info.value.end - info.value.start > timedelta(minutes=10)


async def test_other_errors_propagate_with_progress_up_to_them() -> None:
    times = [T0 + timedelta(minutes=m) for m in range(60)]
    api = InMemorySearch(times, threshold=10)
    api.fail_at = T0 + timedelta(minutes=35)
    progress: list[SearchProgress] = []
    with pytest.raises(TransientError):
        await _collect(api, on_progress=progress.append)
    cursor = progress[-1].completed_until
    assert cursor <= api.fail_at
    assert progress[-1].prospects_yielded == sum(t < cursor for t in times)


async def test_invalid_min_window() -> None:
    with pytest.raises(ValueError, match="min_window"):
        await _collect(InMemorySearch([], threshold=1), min_window=timedelta(0))


class GatedSearch(InMemorySearch):
    """Each search waits for the test to open its gate, so what is asked when shows."""

    def __init__(self, times: list[datetime], *, threshold: int) -> None:
        super().__init__(times, threshold=threshold)
        self.gate = asyncio.Event()
        #: Searches answered before the gate is consulted at all.
        self.ungated = 0
        self.asked: list[tuple[datetime, datetime]] = []
        self.cancelled: list[tuple[datetime, datetime]] = []

    async def search_entries(self, **kwargs: Any) -> list[ProspectEntry]:
        window = (kwargs["modified_start"], kwargs["modified_end"])
        self.asked.append(window)
        try:
            if len(self.asked) > self.ungated:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(window)
            raise
        return await super().search_entries(**kwargs)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_next_window_is_asked_while_the_caller_stores_this_one() -> None:
    times = [T0 + timedelta(minutes=m) for m in range(60)]
    api = GatedSearch(times, threshold=20)
    api.gate.set()
    search = search_window(client=api, creds=CREDS, start=T0, end=T0 + timedelta(hours=1))
    async with aclosing(search):
        first = await anext(search)
        # The first window that fitted is being yielded; the one after it is already asked,
        # though the caller has not yielded to the loop since (a pull storing on SQLite runs
        # on the loop's thread: a search that only started when awaited would overlap nothing).
        answered = [w for w in api.windows if w[0] <= _time_of(first) < w[1]][-1]
        assert api.asked[-1][0] == answered[1]
        rest = [p async for p in search]
    assert [_time_of(p) for p in [first, *rest]] == times


async def test_closing_the_search_cancels_the_window_asked_ahead() -> None:
    times = [T0 + timedelta(minutes=m) for m in range(60)]
    api = GatedSearch(times, threshold=20)
    api.ungated = 3  # 1 h and 30 min overflow, 15 min fits; the search asked ahead waits
    search = search_window(client=api, creds=CREDS, start=T0, end=T0 + timedelta(hours=1))
    first = await anext(search)
    await _settle()
    asked_ahead = api.asked[-1]
    assert len(api.asked) == 4
    assert asked_ahead[0] > _time_of(first)
    await search.aclose()
    await _settle()
    assert api.cancelled == [asked_ahead]


async def test_an_error_of_the_window_asked_ahead_waits_for_its_turn() -> None:
    times = [T0 + timedelta(minutes=m) for m in range(60)]
    api = InMemorySearch(times, threshold=20)
    api.fail_at = T0 + timedelta(minutes=50)
    got: list[ProspectEntry] = []
    progress: list[SearchProgress] = []
    with pytest.raises(TransientError):
        await _collect(api, into=got, on_progress=progress.append)
    # Every window before the failing one was yielded and reported, in order.
    assert [_time_of(p) for p in got] == [t for t in times if t < progress[-1].completed_until]
    assert progress[-1].completed_until <= api.fail_at
    assert len(got) >= 40
