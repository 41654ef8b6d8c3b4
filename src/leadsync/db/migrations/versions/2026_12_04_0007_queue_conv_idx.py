"""lead_sync_queue(conversation_id) index.

Revision ID: 2026_12_04_0007_queue_conv_idx
Revises: 2026_12_03_0006_chat_message
Create Date: 2026-12-04

The duplicate check before a create looks for queued creates of the same person by their
conversations (`sync/push/dedupe.earlier_create`). Without this index SQLite walked every
job of the integration (succeeded ones included) for each create: work that grew with the
queue's history.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_04_0007_queue_conv_idx"
down_revision: str | Sequence[str] | None = "2026_12_03_0006_chat_message"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_lead_sync_queue_conversation_id", "lead_sync_queue", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_lead_sync_queue_conversation_id", table_name="lead_sync_queue")
