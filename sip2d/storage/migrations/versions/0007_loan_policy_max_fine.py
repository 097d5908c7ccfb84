"""A ceiling on one late return's fine in each loan policy (issue #17, `sip2d policy`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

``loan_policies.max_fine_cents`` caps the lateness fine of one checkin; 0 means no cap, which
is what every existing policy did, so nothing changes for a library until staff set one. The
column is added NOT NULL with a server default in place (``recreate="never"``, as in 0002), so
SQLite does not rebuild the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loan_policies", recreate="never") as batch:
        batch.add_column(
            sa.Column("max_fine_cents", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("loan_policies", recreate="never") as batch:
        batch.drop_column("max_fine_cents")
