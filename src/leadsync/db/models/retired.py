"""ResMan prospects retired by a merge: the surplus record of a person ResMan held twice."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadsync.db.base import Base, created_at, uuid_pk


class RetiredProspect(Base):
    """A prospect merged into another one (``merged_into``) by the merge API.

    ResMan keeps it (never deleted: it is marked lost with the reason, through the queue);
    we remember it so that a pull or webhook that sees it again does not store it as a new
    lead: its person lives on in ``merged_into``.
    """

    __tablename__ = "retired_prospect"
    __table_args__ = (UniqueConstraint("integration_id", "resman_prospect_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    integration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resman_integration.id", ondelete="CASCADE")
    )
    resman_prospect_id: Mapped[str] = mapped_column(String(100))
    merged_into: Mapped[str] = mapped_column(
        String(100), comment="the ResMan prospect that holds this person now"
    )
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="SET NULL"),
        comment="the conversation that was linked to the retired prospect",
    )
    created_at: Mapped[datetime] = created_at()
