"""Answers kept for retried transactions, and the per-account checkin answer (issue #15).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

``transaction_replies`` holds the response to each transaction that changed something, for the
retry window, so that a kiosk retrying it on a new connection or through another daemon gets
the same answer instead of a second loan, renewal or payment. ``kiosk_accounts.checked_in_ok``
says whether a 09 of an item that is not on loan answers ok=1 (false for every account, the
answer Koha and Evergreen give by default). As in 0002, the column is added in place with a
server default: no table is rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transaction_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=2), nullable=False),
        sa.Column("patron_barcode", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("transaction_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transaction_replies"),
    )
    op.create_index(
        "ix_transaction_replies_key",
        "transaction_replies",
        ["account_id", "kind", "subject", "patron_barcode"],
    )
    op.create_index("ix_transaction_replies_created_at", "transaction_replies", ["created_at"])
    with op.batch_alter_table("kiosk_accounts", recreate="never") as batch:
        batch.add_column(
            sa.Column("checked_in_ok", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("kiosk_accounts", recreate="never") as batch:
        batch.drop_column("checked_in_ok")
    op.drop_index("ix_transaction_replies_created_at", table_name="transaction_replies")
    op.drop_index("ix_transaction_replies_key", table_name="transaction_replies")
    op.drop_table("transaction_replies")
