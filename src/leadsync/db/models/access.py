"""API keys of the lead API, stored hashed and scoped to properties."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from leadsync.db.base import Base, created_at, uuid_pk


class ApiKey(Base):
    """An API key: only its prefix (to find the row) and a SHA-256 of the secret are kept.

    SHA-256 rather than bcrypt/argon2 on purpose: those slow hashes exist to make guessing
    low-entropy *passwords* expensive. Our secrets are 256-bit random strings, which no
    amount of guessing reaches, so a fast hash is as safe and keeps per-request auth cheap.
    A key reaches only the properties listed in `api_key_property` (none listed: none).
    """

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(
        String(16), unique=True, comment="first characters of the key, shown and used for lookup"
    )
    hash: Mapped[str] = mapped_column(String(64), comment="hex sha256 of the whole key")
    created_at: Mapped[datetime] = created_at()
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ApiKeyProperty(Base):
    """The properties an API key may read and change (invariant 6)."""

    __tablename__ = "api_key_property"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True
    )
    property_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("property.id", ondelete="CASCADE"), primary_key=True, index=True
    )
