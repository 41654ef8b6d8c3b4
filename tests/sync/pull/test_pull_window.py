"""The pull's pure parts: window planning, cursor advance, jitter, lock keys, the summary and
the CLI's progress and result lines."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import typer

from leadsync.cli.sync import parse_time, progress_line, pull_lines
from leadsync.resman.search import SearchProgress
from leadsync.sync.inbound.apply import ApplyOutcome
from leadsync.sync.pull.plan import (
    DEFAULT_INITIAL_LOOKBACK,
    PullSummary,
    advance_cursor,
    plan_window,
)
from leadsync.sync.pull.scheduler import advisory_key, next_delay

NOW = datetime(2026, 11, 25, 12, 0, 30, 750_000, tzinfo=UTC)
CURSOR = datetime(2026, 11, 25, 11, 50, 0, tzinfo=UTC)


# --- plan_window ---------------------------------------------------------------------------
def test_incremental_window_rereads_the_overlap_and_stops_a_second_before_now() -> None:
    window = plan_window(cursor_at=CURSOR, overlap_seconds=300, now=NOW)
    assert window == (
        datetime(2026, 11, 25, 11, 45, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 12, 0, 29, tzinfo=UTC),
    )


def test_first_pull_reads_the_initial_lookback() -> None:
    start, end = plan_window(cursor_at=None, overlap_seconds=300, now=NOW) or (NOW, NOW)
    assert end - start == DEFAULT_INITIAL_LOOKBACK - timedelta(seconds=1)
    assert start.microsecond == 0


def test_since_overrides_the_cursor_and_until_never_reaches_the_future() -> None:
    since = datetime(2026, 1, 1, 6, 0, 0, 999, tzinfo=UTC)
    window = plan_window(
        cursor_at=CURSOR, overlap_seconds=300, now=NOW, since=since, until=NOW + timedelta(days=1)
    )
    assert window == (
        datetime(2026, 1, 1, 6, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 12, 0, 29, tzinfo=UTC),
    )
    earlier = datetime(2026, 6, 1, tzinfo=UTC)
    assert plan_window(cursor_at=None, overlap_seconds=0, now=NOW, since=since, until=earlier) == (
        datetime(2026, 1, 1, 6, 0, tzinfo=UTC),
        earlier,
    )


def test_offsets_are_converted_to_utc_seconds() -> None:
    chicago = datetime.fromisoformat("2026-11-25T05:40:00.5-06:00")
    start, _ = plan_window(cursor_at=None, overlap_seconds=0, now=NOW, since=chicago) or (NOW, NOW)
    assert start == datetime(2026, 11, 25, 11, 40, tzinfo=UTC)
    assert start.tzinfo is UTC


@pytest.mark.parametrize(
    ("cursor_at", "since"),
    [(NOW, None), (None, NOW - timedelta(seconds=1)), (None, NOW + timedelta(hours=1))],
)
def test_empty_window_is_none(cursor_at: datetime | None, since: datetime | None) -> None:
    assert plan_window(cursor_at=cursor_at, overlap_seconds=0, now=NOW, since=since) is None


# --- advance_cursor ------------------------------------------------------------------------
def test_cursor_moves_to_what_was_stored() -> None:
    start = CURSOR - timedelta(minutes=5)
    stored = CURSOR + timedelta(minutes=10)
    assert advance_cursor(cursor_at=CURSOR, window_start=start, stored_until=stored, now=NOW) == (
        stored
    )


def test_cursor_stays_when_nothing_was_stored_or_it_would_go_back() -> None:
    start = CURSOR - timedelta(minutes=5)
    assert advance_cursor(cursor_at=CURSOR, window_start=start, stored_until=None, now=NOW) == (
        CURSOR
    )
    behind = CURSOR - timedelta(minutes=1)
    assert advance_cursor(cursor_at=CURSOR, window_start=start, stored_until=behind, now=NOW) == (
        CURSOR
    )


def test_cursor_stays_when_the_stored_range_leaves_a_gap() -> None:
    """A window that starts after the cursor says nothing about the time in between."""
    later = CURSOR + timedelta(minutes=1)
    stored = CURSOR + timedelta(minutes=5)
    assert advance_cursor(cursor_at=CURSOR, window_start=later, stored_until=stored, now=NOW) == (
        CURSOR
    )


def test_without_cursor_only_a_range_covering_the_lookback_sets_one() -> None:
    lookback_start = NOW - DEFAULT_INITIAL_LOOKBACK
    old = datetime(2024, 6, 1, tzinfo=UTC)
    # A historic window ending before the lookback starts would make the next pull read
    # everything since 2024: the cursor stays unset.
    assert (
        advance_cursor(
            cursor_at=None, window_start=old, stored_until=old + timedelta(hours=1), now=NOW
        )
        is None
    )
    # A recent window that starts inside the lookback leaves the lookback's start unread.
    recent = NOW - timedelta(days=1)
    assert advance_cursor(cursor_at=None, window_start=recent, stored_until=NOW, now=NOW) is None
    # The first pull itself, or a full one, does set it.
    stored = NOW - timedelta(seconds=1)
    assert (
        advance_cursor(cursor_at=None, window_start=lookback_start, stored_until=stored, now=NOW)
        == stored
    )
    assert advance_cursor(cursor_at=None, window_start=old, stored_until=stored, now=NOW) == stored


# --- scheduler helpers ---------------------------------------------------------------------
def test_jittered_delay_stays_within_the_band_and_varies() -> None:
    rng = random.Random(7)
    delays = [next_delay(interval=10.0, jitter=0.2, rng=rng) for _ in range(200)]
    assert all(8.0 <= d <= 12.0 for d in delays)
    assert max(delays) - min(delays) > 2.0  # instances started together drift apart
    assert next_delay(interval=10.0, jitter=0.0, rng=rng) == 10.0


def test_advisory_key_is_stable_signed_64_bit_and_distinct() -> None:
    first = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    keys = {advisory_key(uuid.uuid4()) for _ in range(1000)}
    assert len(keys) == 1000
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert advisory_key(first) == advisory_key(uuid.UUID(str(first)))


# --- the summary ---------------------------------------------------------------------------
def _summary() -> PullSummary:
    return PullSummary(integration_id=uuid.uuid4(), property_id=uuid.uuid4(), trigger="cli")


def test_summary_counts_outcomes_and_lists_each_lead_once() -> None:
    summary = _summary()
    a, b = uuid.uuid4(), uuid.uuid4()
    for outcome in (
        ApplyOutcome(a, "created"),
        ApplyOutcome(b, "updated", conflicts_open=1, conflicts_resolved=2),
        ApplyOutcome(a, "unchanged"),  # seen again in a later window
        ApplyOutcome(uuid.uuid4(), "ignored"),
        ApplyOutcome(None, "ignored"),
    ):
        summary.count(outcome)
    assert (summary.new_leads, summary.updated_leads, summary.unchanged, summary.ignored) == (
        1,
        1,
        1,
        2,
    )
    assert (summary.conflicts_open, summary.conflicts_resolved) == (1, 2)
    assert summary.conversation_ids == [a, b]


def test_summary_to_dict_is_json_ready() -> None:
    summary = _summary()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    summary.window_start = start
    summary.failed_window = (start, start + timedelta(minutes=1))
    summary.count(ApplyOutcome(uuid.uuid4(), "created"))
    data = summary.to_dict()
    assert data["integration_id"] == str(summary.integration_id)
    assert data["window_start"] == "2026-01-01T00:00:00+00:00"
    assert data["failed_window"] == {
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-01-01T00:01:00+00:00",
    }
    assert data["leads_touched"] == 1
    assert "conversation_ids" not in data
    assert "_seen" not in data


# --- CLI lines -----------------------------------------------------------------------------
def test_progress_line_shows_fraction_windows_and_prospects() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    report = SearchProgress(
        start=start,
        end=start + timedelta(hours=4),
        completed_until=start + timedelta(hours=1),
        windows_done=3,
        windows_split=2,
        prospects_yielded=1234,
    )
    line = progress_line(report)
    assert "25.0%" in line
    assert "windows 3 (split 2)" in line
    assert "prospects 1234" in line


def test_pull_lines_report_a_window_that_was_not_read() -> None:
    summary = _summary()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    summary.window_start, summary.window_end = start, start + timedelta(hours=1)
    summary.new_leads = 4
    assert not any("NOT READ" in line for line in pull_lines(summary))
    summary.failed_window = (start + timedelta(minutes=30), start + timedelta(minutes=31))
    lines = pull_lines(summary)
    assert "new leads: 4" in lines[1]
    assert "NOT READ: 2026-01-01T00:30:00+00:00" in lines[-1]
    empty = _summary()
    assert "nothing to pull" in pull_lines(empty)[0]


def test_parse_time_reads_iso_and_assumes_utc() -> None:
    assert parse_time("2026-11-01T00:00:00Z", what="--since") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("2026-11-01T06:00:00+06:00", what="--since") == datetime(
        2026, 11, 1, tzinfo=UTC
    )
    assert parse_time("2026-11-01", what="--since") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(typer.Exit):
        parse_time("last tuesday", what="--since")
