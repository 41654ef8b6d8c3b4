"""Minimal DomIQ tables the sync engine reads and writes: property, contact, conversation,
tour_booking. DomIQ's real schema is larger; these hold what lead sync needs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from leadsync.db.base import Base, created_at, one_of, updated_at, uuid_pk
from leadsync.db.vocab import CONVERSATION_STATUSES, LEAD_SOURCES, TOUR_STATUSES, TOUR_TYPES

DEFAULT_TIMEZONE = "America/Chicago"


class Property(Base):
    """A rental community; every lead, integration and API-key scope hangs off one."""

    __tablename__ = "property"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(
        String(64),
        default=DEFAULT_TIMEZONE,
        server_default=DEFAULT_TIMEZONE,
        comment="IANA time zone name; tour times are shown in it",
    )
    created_at: Mapped[datetime] = created_at()


class Contact(Base):
    """DomIQ's user/contact: the person behind one or more conversations."""

    __tablename__ = "contact"
    __table_args__ = (Index(None, "email"), Index(None, "phone"))

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20), comment="E.164, e.g. +15125550100")
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at()


class Conversation(Base):
    """A chatbot conversation, which is DomIQ's lead: prospect fields, status, score, context.

    `version` is SQLAlchemy's version counter: an ORM UPDATE carries `WHERE version = <read>`
    and raises StaleDataError when someone else changed the row meanwhile (optimistic lock).
    Core UPDATEs must bump it themselves.
    """

    __tablename__ = "conversation"
    __table_args__ = (
        one_of("status", CONVERSATION_STATUSES, name="status"),
        one_of("source", LEAD_SOURCES, name="source"),
        CheckConstraint("lead_score BETWEEN 0 AND 100", name="lead_score_range"),
        Index(None, "property_id", "updated_at"),
        Index(None, "email"),
        Index(None, "phone"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contact.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="new", server_default="new")
    lead_score: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20), comment="E.164")
    move_in_date: Mapped[date | None]
    budget_min: Mapped[int | None] = mapped_column(comment="monthly rent, whole dollars")
    budget_max: Mapped[int | None] = mapped_column(comment="monthly rent, whole dollars")
    bedrooms: Mapped[int | None] = mapped_column(comment="0 = studio")
    occupants: Mapped[int | None]
    has_pets: Mapped[bool | None]
    pet_details: Mapped[dict[str, Any] | None]
    initial_message: Mapped[str | None] = mapped_column(Text)
    transcript_summary: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(
        default=dict,
        server_default=text("'{}'"),
        comment="what the chatbot knows about the lead (ResMan status, notes, custom fields)",
    )
    source: Mapped[str] = mapped_column(String(20), default="chatbot", server_default="chatbot")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    version: Mapped[int] = mapped_column(
        server_default=text("1"), comment="optimistic lock counter"
    )

    __mapper_args__ = {"version_id_col": version}


class TourBooking(Base):
    """A tour the lead booked (chatbot) or the office scheduled (ResMan Appointment event)."""

    __tablename__ = "tour_booking"
    __table_args__ = (
        one_of("tour_type", TOUR_TYPES, name="tour_type"),
        one_of("status", TOUR_STATUSES, name="status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    tour_datetime: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(default=30, server_default=text("30"))
    tour_type: Mapped[str] = mapped_column(
        String(20), default="in_person", server_default="in_person"
    )
    unit_interest: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="scheduled", server_default="scheduled")
    created_at: Mapped[datetime] = created_at()
