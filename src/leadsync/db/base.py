"""Declarative base: one MetaData with a naming convention, and the shared column helpers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, MetaData, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadsync.db.types import JSONType, UTCDateTime, utcnow

# Deterministic constraint names: migrations can refer to (and drop) every constraint by
# name, and SQLite's batch ALTER can recreate tables without losing them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def uuid_pk() -> Mapped[uuid.UUID]:
    """A client-generated UUID primary key (ids are known before the INSERT, even in bulk)."""
    return mapped_column(primary_key=True, default=uuid.uuid4)


def created_at(*, comment: str | None = None) -> Mapped[datetime]:
    # Both defaults: the ORM fills microsecond precision, raw SQL inserts still get a value.
    return mapped_column(default=utcnow, server_default=func.now(), comment=comment)


def updated_at(*, comment: str | None = None) -> Mapped[datetime]:
    return mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now(), comment=comment
    )


def one_of(column: str, values: Sequence[str], *, name: str) -> CheckConstraint:
    """A CHECK that `column` holds one of a closed vocabulary (named `ck_<table>_<name>`)."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)
