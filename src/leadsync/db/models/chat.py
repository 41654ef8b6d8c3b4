"""The chatbot conversation's messages, kept so the whole chat reaches ResMan (issue 11)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadsync.db.base import Base, created_at, one_of, uuid_pk
from leadsync.db.vocab import CHAT_ROLES


class ChatMessage(Base):
    """One chat message. ``message_id`` is DomIQ's id: posting it again changes nothing.

    ``batch_id`` is the queue job whose transcript event carries the message (set when the
    job forms its batch, before it calls ResMan, so a retry posts the very same lines);
    ``pushed_at`` is set in the transaction that marks that job succeeded (NULL: not yet in
    ResMan, or withheld by the integration's privacy setting until its batch runs).
    """

    __tablename__ = "chat_message"
    __table_args__ = (
        UniqueConstraint("conversation_id", "message_id"),
        Index(None, "conversation_id", "sent_at"),
        Index(None, "batch_id"),
        one_of("role", CHAT_ROLES, name="role"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(100), comment="DomIQ's id of the message")
    role: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, comment="personal data: never logged")
    sent_at: Mapped[datetime]
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        comment="the transcript job carrying it to ResMan"
    )
    pushed_at: Mapped[datetime | None] = mapped_column(
        comment="when its transcript event reached ResMan"
    )
    created_at: Mapped[datetime] = created_at()
