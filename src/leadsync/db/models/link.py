"""The sync engine's own per-lead state: the DomIQ <-> ResMan link with its merge base,
conflicts awaiting a person, and the status history of every lead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from leadsync.db.base import Base, created_at, one_of, updated_at, uuid_pk
from leadsync.db.types import JSONType
from leadsync.db.vocab import CHANGE_SOURCES, CONFLICT_STATUSES, CONFLICT_TYPES


class LeadLink(Base):
    """A conversation linked to its ResMan prospect, with the three-way merge base.

    `base` holds the field values both sides last agreed on; a field that differs from it on
    one side only changed there, on both sides it is a conflict.

    One row per conversation (invariant 2: at most one prospect per conversation), but MANY
    conversations may link to ONE prospect: a person who chats again is the same ResMan
    prospect (see README "Returning prospects and shared phones"). Each link keeps its own
    base. The ResMan ids are NULL while the first create is in flight.
    """

    __tablename__ = "lead_link"
    __table_args__ = (Index(None, "integration_id", "resman_prospect_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), unique=True
    )
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resman_integration.id", ondelete="CASCADE")
    )
    resman_prospect_id: Mapped[str | None] = mapped_column(String(100))
    resman_person_id: Mapped[str | None] = mapped_column(String(100))
    base: Mapped[dict[str, Any]] = mapped_column(
        default=dict,
        server_default=text("'{}'"),
        comment="field values both sides last agreed on (three-way merge base)",
    )
    base_updated_at: Mapped[datetime | None]
    resman_modified_at: Mapped[datetime | None] = mapped_column(
        comment="ResMan's last-modified time last applied; older updates are ignored"
    )
    resman_fingerprint: Mapped[str | None] = mapped_column(
        String(64),
        comment="digest of the ResMan prospect state last applied (skip if unchanged)",
    )
    created_at: Mapped[datetime] = created_at()


class SyncConflict(Base):
    """Something parked for a person to decide.

    `data`/`status`: a field changed on both sides to different values. `duplicate_lead`: a
    new lead whose phone matched another ResMan prospect with a clearly different name; it
    got its own prospect, and `domiq_value` / `resman_value` hold the two records side by
    side (field is "duplicate_lead"; `other_prospect_id` / `other_conversation_id` name the
    other one) until a person merges them or dismisses the conflict.

    At most one open conflict per lead and field (partial unique index), so a conflict seen
    again by the next pull updates the open one instead of piling up.
    """

    __tablename__ = "sync_conflict"
    __table_args__ = (
        one_of("status", CONFLICT_STATUSES, name="status"),
        one_of("conflict_type", CONFLICT_TYPES, name="conflict_type"),
        Index(None, "status", "created_at"),
        Index(
            "uq_sync_conflict_open_field",
            "conversation_id",
            "field",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE")
    )
    integration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resman_integration.id", ondelete="SET NULL")
    )
    field: Mapped[str] = mapped_column(String(100))
    # Any JSON value (a field may be a string, number, list...); NULL means blank.
    base_value: Mapped[Any] = mapped_column(
        JSONType, nullable=True, comment="value both sides last agreed on"
    )
    domiq_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    resman_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    conflict_type: Mapped[str] = mapped_column(
        String(20),
        default="data",
        server_default="data",
        comment="data | status (a field changed on both sides) | duplicate_lead",
    )
    other_prospect_id: Mapped[str | None] = mapped_column(
        String(100), comment="duplicate_lead: the ResMan prospect this lead may duplicate"
    )
    other_conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL"),
        comment="duplicate_lead: our conversation linked to that prospect, if any",
    )
    resolution: Mapped[str | None] = mapped_column(
        String(50), comment="which side won (domiq | resman) or custom"
    )
    resolved_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class StatusHistory(Base):
    """Every status change of a lead, whichever side made it."""

    __tablename__ = "status_history"
    __table_args__ = (
        one_of("source", CHANGE_SOURCES, name="source"),
        Index(None, "conversation_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE")
    )
    old_status: Mapped[str | None] = mapped_column(String(20))
    new_status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    changed_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at()
