"""Dates and timestamps as MITS carries them.

Outgoing ``EventDate`` is written as UTC wall time without a suffix (``YYYY-MM-DDTHH:MM:SS``):
ResMan reads an appointment's date and time as UTC and the form without an offset is the one
seen in its own documents, so this is what it parses most reliably. Sub-second precision is
dropped on the way out because ResMan has none.

Incoming timestamps are accepted in every shape seen in real data -- a bare date, a naive
timestamp, an offset (``+00:00``, ``-05:00``), ``Z``, fractional seconds (even .NET's seven
digits) -- and always come back timezone-aware in UTC: naive values are read as UTC, as ResMan
means them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from leadsync.resman.errors import MalformedXMLError


def format_event_date(value: datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SS``; a naive value is refused rather than guessed at."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Event.event_date must be timezone-aware")
    # isoformat() always zero-pads the year (strftime("%Y") does not on every libc).
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def format_move_in_date(value: date) -> str:
    """``YYYY-MM-DD`` (a datetime passed by mistake still yields only its date)."""
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def parse_event_date(raw: str, *, where: str) -> datetime:
    """A timezone-aware UTC datetime from any ISO 8601 shape ResMan sends."""
    text = raw.strip()
    try:
        # fromisoformat (3.11+) takes Z, offsets, a space separator and 7 fractional digits.
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedXMLError(f"{where}: not a date/time: {text[:40]!r}") from None


def parse_move_in_date(raw: str, *, where: str) -> date:
    """A calendar date; a timestamp there gives its date as written (no UTC shift: a move-in
    day is a local calendar day, converting it could move it to the day before)."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise MalformedXMLError(f"{where}: not a date: {text[:40]!r}") from None
