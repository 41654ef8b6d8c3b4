"""Returning prospects: many conversations per ResMan prospect; duplicate_lead conflicts.

Revision ID: 2026_12_02_0003_returning_leads
Revises: 2026_11_25_0002_app_setting
Create Date: 2026-12-02

- lead_link: UNIQUE(integration_id, resman_prospect_id) becomes a plain index. A person who
  chats again is the same ResMan prospect, so several conversations link to one prospect
  (one link per conversation stays unique).
- sync_conflict: `conflict_type` (data | status | duplicate_lead), `other_prospect_id` and
  `other_conversation_id` (the record a duplicate_lead conflict may duplicate), and the
  status `dismissed`.

Frozen history: vocabularies are copied, not imported. Batch mode recreates the tables on
SQLite; PostgreSQL alters them in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_02_0003_returning_leads"
down_revision: str | Sequence[str] | None = "2026_11_25_0002_app_setting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = ("open", "resolved")
_NEW_STATUSES = ("open", "resolved", "dismissed")
_TYPES = ("data", "status", "duplicate_lead")


def _in(column: str, values: Sequence[str]) -> str:
    allowed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({allowed})"


def upgrade() -> None:
    with op.batch_alter_table("lead_link") as batch:
        batch.drop_constraint(
            op.f("uq_lead_link_integration_id_resman_prospect_id"), type_="unique"
        )
        batch.create_index(
            op.f("ix_lead_link_integration_id_resman_prospect_id"),
            ["integration_id", "resman_prospect_id"],
        )

    with op.batch_alter_table("sync_conflict") as batch:
        batch.add_column(
            sa.Column(
                "conflict_type",
                sa.String(20),
                server_default="data",
                nullable=False,
                comment="data | status (a field changed on both sides) | duplicate_lead",
            )
        )
        batch.add_column(
            sa.Column(
                "other_prospect_id",
                sa.String(100),
                comment="duplicate_lead: the ResMan prospect this lead may duplicate",
            )
        )
        batch.add_column(
            sa.Column(
                "other_conversation_id",
                sa.Uuid(),
                comment="duplicate_lead: our conversation linked to that prospect, if any",
            )
        )
        batch.create_foreign_key(
            op.f("fk_sync_conflict_other_conversation_id_conversation"),
            "conversation",
            ["other_conversation_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.drop_constraint(op.f("ck_sync_conflict_status"), type_="check")
        batch.create_check_constraint(op.f("ck_sync_conflict_status"), _in("status", _NEW_STATUSES))
        batch.create_check_constraint(
            op.f("ck_sync_conflict_conflict_type"), _in("conflict_type", _TYPES)
        )
    op.execute("UPDATE sync_conflict SET conflict_type = 'status' WHERE field = 'status'")


def downgrade() -> None:
    # The old schema knows neither duplicate_lead conflicts nor dismissals. A dismissed data
    # conflict was decided by a person: it becomes resolved. Fails (unique violation) while a
    # prospect still has several conversations: unlink them first.
    op.execute("DELETE FROM sync_conflict WHERE conflict_type = 'duplicate_lead'")
    op.execute(
        "UPDATE sync_conflict SET status = 'resolved', resolution = 'dismissed' "
        "WHERE status = 'dismissed'"
    )
    with op.batch_alter_table("sync_conflict") as batch:
        batch.drop_constraint(op.f("ck_sync_conflict_conflict_type"), type_="check")
        batch.drop_constraint(op.f("ck_sync_conflict_status"), type_="check")
        batch.create_check_constraint(op.f("ck_sync_conflict_status"), _in("status", _OLD_STATUSES))
        batch.drop_constraint(
            op.f("fk_sync_conflict_other_conversation_id_conversation"), type_="foreignkey"
        )
        batch.drop_column("other_conversation_id")
        batch.drop_column("other_prospect_id")
        batch.drop_column("conflict_type")

    with op.batch_alter_table("lead_link") as batch:
        batch.drop_index(op.f("ix_lead_link_integration_id_resman_prospect_id"))
        batch.create_unique_constraint(
            op.f("uq_lead_link_integration_id_resman_prospect_id"),
            ["integration_id", "resman_prospect_id"],
        )
