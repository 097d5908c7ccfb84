"""Demo data marked as demo data: the rows `sip2d demo` created (issue #17).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

A new table only; nothing existing changes. A database seeded by an older sip2d has no rows
here, so `sip2d demo` treats its data as not its own and refuses to touch it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_records",
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "row_id", name="pk_demo_records"),
    )


def downgrade() -> None:
    op.drop_table("demo_records")
