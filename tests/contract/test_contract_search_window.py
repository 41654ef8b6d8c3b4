"""The window-splitting search against the sandbox's real 502 "buffer overflow"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from leadsync.resman import (
    ResManClient,
    ResManCredentials,
    SearchProgress,
    UnsplittableWindowError,
    WindowOverflowError,
    search_window,
)
from leadsync.resman.errors import AnswerTooLargeError
from leadsync.resman.models import ProspectEntry
from leadsync.sandbox import seed

SetFaults = Callable[..., Awaitable[dict[str, Any]]]

T0 = datetime(2023, 6, 1, tzinfo=UTC)
BULK = f"/admin/properties/{seed.SANDBOX_PROPERTY_ID}/prospects/bulk"


async def bulk(
    admin: httpx2.AsyncClient, *, count: int, start: datetime, end: datetime, rng: int
) -> None:
    response = await admin.post(
        BULK,
        json={
            "count": count,
            "modified_from": start.isoformat(),
            "modified_to": end.isoformat(),
            "seed": rng,
        },
    )
    response.raise_for_status()


async def test_overflowing_window_yields_every_prospect_exactly_once(
    client: ResManClient,
    creds: ResManCredentials,
    admin: httpx2.AsyncClient,
    set_faults: SetFaults,
) -> None:
    await bulk(admin, count=1200, start=T0, end=T0 + timedelta(hours=1), rng=1)
    await set_faults(overflow_threshold=100)
    start, end = T0 - timedelta(minutes=1), T0 + timedelta(hours=1, minutes=1)
    with pytest.raises(WindowOverflowError):
        await client.search_prospects(creds=creds, modified_start=start, modified_end=end)

    progress: list[SearchProgress] = []
    ids = [
        p.prospect_id
        async for p in search_window(
            client=client, creds=creds, start=start, end=end, on_progress=progress.append
        )
    ]
    assert len(ids) == 1200
    assert len(set(ids)) == 1200
    assert None not in ids
    last = progress[-1]
    assert (last.prospects_yielded, last.completed_until, last.fraction_done) == (1200, end, 1.0)
    assert last.windows_done >= 12  # at least 1200 / 100 windows had to be carved out
    # ...most of them one stride wide, learnt from the first that fitted, not found by
    # halving (halving alone overflowed once per window read: 11 times or more here).
    assert 1 <= last.windows_split < last.windows_done / 2


async def test_unsplittable_window_is_reported_after_the_earlier_windows(
    client: ResManClient,
    creds: ResManCredentials,
    admin: httpx2.AsyncClient,
    set_faults: SetFaults,
) -> None:
    crowd_at = T0 + timedelta(minutes=30)
    await bulk(admin, count=50, start=T0, end=T0 + timedelta(minutes=10), rng=2)
    # 150 prospects stamped within one second: no split can separate them.
    await bulk(admin, count=150, start=crowd_at, end=crowd_at + timedelta(seconds=1), rng=3)
    await set_faults(overflow_threshold=100)

    yielded: list[ProspectEntry] = []
    with pytest.raises(UnsplittableWindowError) as info:
        await _drain(client, creds, start=T0, end=T0 + timedelta(hours=1), into=yielded)
    err = info.value
    assert err.start == crowd_at
    assert err.end - err.start <= timedelta(minutes=1)
    # Everything before err.start came out, exactly once: a cursor may advance to err.start.
    assert len({p.prospect_id for p in yielded}) == len(yielded) == 50
    early = await client.search_prospects(creds=creds, modified_start=T0, modified_end=err.start)
    assert {p.prospect_id for p in early} == {p.prospect_id for p in yielded}


async def _drain(
    client: ResManClient,
    creds: ResManCredentials,
    *,
    start: datetime,
    end: datetime,
    into: list[ProspectEntry],
) -> None:
    async for prospect in search_window(client=client, creds=creds, start=start, end=end):
        into.append(prospect)


async def test_a_page_over_the_answer_size_cap_is_split_like_an_overflow(
    sandbox_url: str, creds: ResManCredentials, admin: httpx2.AsyncClient
) -> None:
    # 300 prospects: far below the sandbox's 502 threshold (500), far above what 48 KB holds.
    await bulk(admin, count=300, start=T0, end=T0 + timedelta(hours=1), rng=5)
    start, end = T0 - timedelta(minutes=1), T0 + timedelta(hours=1, minutes=1)
    async with ResManClient(base_url=sandbox_url, max_answer_bytes=48 * 1024) as small:
        with pytest.raises(AnswerTooLargeError, match="larger than 49152 bytes"):
            await small.search_prospects(creds=creds, modified_start=start, modified_end=end)
        progress: list[SearchProgress] = []
        ids = [
            p.prospect_id
            async for p in search_window(
                client=small, creds=creds, start=start, end=end, on_progress=progress.append
            )
        ]
    assert len(ids) == len(set(ids)) == 300
    assert progress[-1].windows_split >= 3
