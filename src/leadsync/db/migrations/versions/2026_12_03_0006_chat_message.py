"""chat_message: the chatbot conversation's messages, batched into ResMan transcripts.

Revision ID: 2026_12_03_0006_chat_message
Revises: 2026_12_03_0005_fingerprint
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0006_chat_message"
down_revision: str | Sequence[str] | None = "2026_12_03_0005_fingerprint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_message",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "message_id", sa.String(100), nullable=False, comment="DomIQ's id of the message"
        ),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False, comment="personal data: never logged"),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.Uuid(), comment="the transcript job carrying it to ResMan"),
        sa.Column(
            "pushed_at",
            sa.DateTime(timezone=True),
            comment="when its transcript event reached ResMan",
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("role IN ('prospect', 'assistant')", name=op.f("ck_chat_message_role")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_chat_message_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_message")),
        sa.UniqueConstraint(
            "conversation_id",
            "message_id",
            name=op.f("uq_chat_message_conversation_id_message_id"),
        ),
    )
    op.create_index(
        op.f("ix_chat_message_conversation_id_sent_at"),
        "chat_message",
        ["conversation_id", "sent_at"],
    )
    op.create_index(op.f("ix_chat_message_batch_id"), "chat_message", ["batch_id"])


def downgrade() -> None:
    op.drop_table("chat_message")
