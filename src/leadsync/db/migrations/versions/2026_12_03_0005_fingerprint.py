"""lead_link.resman_fingerprint: a digest of the ResMan prospect state last applied.

Revision ID: 2026_12_03_0005_fingerprint
Revises: 2026_12_02_0004_retired_prospect
Create Date: 2026-12-03

A pull or refresh that reads a prospect whose digest equals the stored one skips it before
any merge (the poll's overlap re-reads the same prospects every few seconds).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0005_fingerprint"
down_revision: str | Sequence[str] | None = "2026_12_02_0004_retired_prospect"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lead_link") as batch:
        batch.add_column(
            sa.Column(
                "resman_fingerprint",
                sa.String(64),
                nullable=True,
                comment="digest of the ResMan prospect state last applied (skip if unchanged)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("lead_link") as batch:
        batch.drop_column("resman_fingerprint")
