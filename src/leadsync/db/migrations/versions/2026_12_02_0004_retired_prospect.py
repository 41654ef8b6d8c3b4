"""retired_prospect: ResMan prospects a merge made surplus (marked lost, never deleted).

Revision ID: 2026_12_02_0004_retired_prospect
Revises: 2026_12_02_0003_returning_leads
Create Date: 2026-12-02

A pull or webhook that sees a retired prospect again must not store it as a new lead.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_02_0004_retired_prospect"
down_revision: str | Sequence[str] | None = "2026_12_02_0003_returning_leads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retired_prospect",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("integration_id", sa.Uuid(), nullable=False),
        sa.Column("resman_prospect_id", sa.String(100), nullable=False),
        sa.Column(
            "merged_into",
            sa.String(100),
            nullable=False,
            comment="the ResMan prospect that holds this person now",
        ),
        sa.Column(
            "conversation_id",
            sa.Uuid(),
            comment="the conversation that was linked to the retired prospect",
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["resman_integration.id"],
            name=op.f("fk_retired_prospect_integration_id_resman_integration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_retired_prospect_conversation_id_conversation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retired_prospect")),
        sa.UniqueConstraint(
            "integration_id",
            "resman_prospect_id",
            name=op.f("uq_retired_prospect_integration_id_resman_prospect_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("retired_prospect")
