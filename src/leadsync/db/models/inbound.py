"""What arrives and what goes out: the webhook inbox, idempotency keys of the lead API, and
the realtime event log that WebSocket clients resume from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadsync.db.base import Base, created_at, one_of, uuid_pk
from leadsync.db.types import JSONType
from leadsync.db.vocab import CHANGE_SOURCES, INBOX_STATES, REALTIME_EVENT_TYPES


class WebhookInbox(Base):
    """Every received webhook, stored before it is applied: redelivery of the same
    `webhook_id` hits the unique constraint (dedupe), and parked ones can be replayed."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        one_of("state", INBOX_STATES, name="state"),
        Index(None, "state", "received_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    webhook_id: Mapped[str] = mapped_column(
        String(200), unique=True, comment="the sender's webhook-id header (dedupe key)"
    )
    integration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resman_integration.id", ondelete="SET NULL"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(comment="the body as received")
    received_at: Mapped[datetime] = created_at()
    processed_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    error: Mapped[str | None] = mapped_column(Text, comment="why parked or ignored; no PII")


class IdempotencyKey(Base):
    """An `Idempotency-Key` of POST /api/resman/leads: a retried request gets the first
    answer back instead of creating a second lead; the same key with another body is refused."""

    __tablename__ = "idempotency_key"
    __table_args__ = (Index(None, "property_id", "key", unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    key: Mapped[str] = mapped_column(String(200))
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property.id", ondelete="CASCADE"))
    request_hash: Mapped[str] = mapped_column(
        String(64), comment="sha256 of the canonical request body"
    )
    conversation_id: Mapped[uuid.UUID | None]
    response: Mapped[dict[str, Any] | None] = mapped_column(
        comment="status code and body of the first answer"
    )
    created_at: Mapped[datetime] = created_at()


class RealtimeEvent(Base):
    """The ordered log of lead events pushed over the WebSocket; a client that reconnects
    asks for everything after the last `sequence` it saw."""

    __tablename__ = "realtime_event"
    __table_args__ = (
        one_of("type", REALTIME_EVENT_TYPES, name="type"),
        one_of("source", CHANGE_SOURCES, name="source"),
        Index(None, "property_id", "sequence"),
        # AUTOINCREMENT: SQLite must never reuse a sequence after old events are purged, or
        # a resuming client would skip events.
        {"sqlite_autoincrement": True},
    )

    sequence: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True
    )
    property_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("property.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column("type", String(30))
    source: Mapped[str] = mapped_column(String(20))
    data: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at()
