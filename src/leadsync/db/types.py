"""Column types that behave the same on SQLite and PostgreSQL.

PostgreSQL gets its native TIMESTAMPTZ, JSONB and UUID; SQLite gets SQLAlchemy's portable
equivalents, with the one gap SQLite leaves (it drops tzinfo) closed by `UTCDateTime`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# none_as_null: a Python None is stored as SQL NULL, not as the JSON literal `null`, so
# "IS NULL" means "absent" on both databases.
JSONType: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only kind the database accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant in time: TIMESTAMPTZ on PostgreSQL, UTC text on SQLite; always aware UTC.

    Naive datetimes are refused instead of guessed at: a naive value is local time on one
    machine and UTC on another, and the mix would silently reorder events.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a timestamp column; pass an aware one")
        value = value.astimezone(UTC)
        # SQLite stores text; keeping it naive UTC keeps the text sortable and equal to what
        # CURRENT_TIMESTAMP (a server default) writes.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # PostgreSQL answers in the session's TimeZone; normalise so callers compare like
        # with like.
        return value.astimezone(UTC)
