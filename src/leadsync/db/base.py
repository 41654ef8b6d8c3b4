"""Declarative base: one MetaData with a naming convention, and the shared column helpers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, MetaData, Uuid, event, func
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


#: Marks a :func:`uuid_pk` column in its ``info``.
_CLIENT_ID = "leadsync_client_id"


def uuid_pk() -> Mapped[uuid.UUID]:
    """A client-generated UUID primary key (ids are known before the INSERT, even in bulk):
    set when the object is made (see ``_known_ids``); the column default serves Core inserts."""
    return mapped_column(primary_key=True, default=uuid.uuid4, info={_CLIENT_ID: True})


#: Per mapped class, the keys of its :func:`uuid_pk` columns.
_ID_KEYS: dict[type[Base], tuple[str, ...]] = {}


@event.listens_for(Base, "init", propagate=True)
def _known_ids(target: Base, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # A row whose id only the INSERT would make is written one statement at a time (the
    # unit of work reads each new key back); with the id known, a flush writes all new rows
    # of a table in one executemany (a pull's batch of 200 new leads: 200 statements -> 1).
    cls = type(target)
    keys = _ID_KEYS.get(cls)
    if keys is None:
        primary_key = cls.__table__.primary_key
        keys = _ID_KEYS[cls] = tuple(c.key for c in primary_key if c.info.get(_CLIENT_ID))
    for key in keys:
        if kwargs.get(key) is None:
            kwargs[key] = uuid.uuid4()


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
