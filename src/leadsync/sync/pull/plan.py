"""The pull's pure core: which window to read, where the cursor may move afterwards, and
the summary of what a pull did. No I/O, no clock: ``now`` is always given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from leadsync.resman.search import ONE_SECOND, Window
from leadsync.sync.inbound.apply import ApplyOutcome

#: How far back the first pull of a new integration reads (no cursor yet).
DEFAULT_INITIAL_LOOKBACK = timedelta(days=30)
#: Where a full pull starts when no date is given: before any ResMan data can exist.
FULL_SYNC_START = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class PullSummary:
    """What one pull of one integration did (JSON-able through :meth:`to_dict`)."""

    integration_id: uuid.UUID
    property_id: uuid.UUID
    trigger: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    cursor_before: datetime | None = None
    cursor_after: datetime | None = None
    prospects_seen: int = 0
    new_leads: int = 0
    updated_leads: int = 0
    unchanged: int = 0
    ignored: int = 0
    conflicts_resolved: int = 0
    conflicts_open: int = 0
    #: Prospects whose apply failed; each was queued for a refresh (retried by the worker).
    failed_syncs: int = 0
    windows_done: int = 0
    windows_split: int = 0
    #: A window that could not be read (still overflowing at the minimum width).
    failed_window: Window | None = None
    #: Every lead the pull touched, in the order first seen (no duplicates).
    conversation_ids: list[uuid.UUID] = field(default_factory=list)
    _seen: set[uuid.UUID] = field(default_factory=set, repr=False, compare=False)

    def count(self, outcome: ApplyOutcome) -> None:
        if outcome.action == "created":
            self.new_leads += 1
        elif outcome.action == "updated":
            self.updated_leads += 1
        elif outcome.action == "unchanged":
            self.unchanged += 1
        else:
            self.ignored += 1
        self.conflicts_resolved += outcome.conflicts_resolved
        self.conflicts_open += outcome.conflicts_open
        # A prospect modified during the scan can come back in a later window.
        conv_id = outcome.conversation_id
        if outcome.action != "ignored" and conv_id is not None and conv_id not in self._seen:
            self._seen.add(conv_id)
            self.conversation_ids.append(conv_id)

    def to_dict(self) -> dict[str, Any]:
        """Counts, window and cursor as JSON values (the lead ids are left out)."""
        data: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("conversation_ids", "_seen", "failed_window"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, uuid.UUID):
                value = str(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            data[f.name] = value
        data["failed_window"] = None
        if self.failed_window is not None:
            start, end = self.failed_window
            data["failed_window"] = {"start": start.isoformat(), "end": end.isoformat()}
        data["leads_touched"] = len(self.conversation_ids)
        return data


# --- window and cursor arithmetic (pure) ---------------------------------------------------
def _second(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def plan_window(
    *,
    cursor_at: datetime | None,
    overlap_seconds: int,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    initial_lookback: timedelta = DEFAULT_INITIAL_LOOKBACK,
) -> Window | None:
    """The [start, end) to read, in whole UTC seconds; None when it is empty.

    start: ``since``, else the cursor minus the overlap, else ``now`` minus the initial
    lookback. end: one second before ``now``, or ``until`` when earlier. Prospects of the
    running second may still change within it; a window reaching into the future would
    let the cursor claim changes that have not happened yet.
    """
    if since is not None:
        start = since
    elif cursor_at is not None:
        start = cursor_at - timedelta(seconds=max(0, overlap_seconds))
    else:
        start = now - initial_lookback
    end = now - ONE_SECOND if until is None else min(until, now - ONE_SECOND)
    lo, hi = _second(start), _second(end)
    return (lo, hi) if lo < hi else None


def advance_cursor(
    *,
    cursor_at: datetime | None,
    window_start: datetime,
    stored_until: datetime | None,
    now: datetime,
    initial_lookback: timedelta = DEFAULT_INITIAL_LOOKBACK,
) -> datetime | None:
    """The cursor after storing everything modified in [window_start, stored_until).

    The cursor means "everything modified before it is stored" (with no cursor yet:
    everything before the first pull's lookback counts as covered). It moves only when the
    stored range joins the covered one — the window starts at or before its end — and
    reaches past it; it never moves backwards.
    """
    covered = cursor_at if cursor_at is not None else _second(now - initial_lookback)
    if stored_until is None or _second(window_start) > covered or stored_until <= covered:
        return cursor_at
    return stored_until
