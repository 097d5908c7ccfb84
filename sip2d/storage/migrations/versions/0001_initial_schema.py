"""Initial schema: patrons, items, kiosk accounts, loans, holds, fees, payments, policies,
the circulation journal and auth failures.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written from ``sip2d.storage.models`` and kept self-contained: a revision must go on producing
the same schema after the models move on, so it imports nothing from sip2d.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc_now() -> sa.TextClause:
    # The default for created_at/updated_at: naive UTC on both engines (see sqltime.py).
    if op.get_context().dialect.name == "postgresql":
        return sa.text("(now() AT TIME ZONE 'utc')")
    return sa.text("CURRENT_TIMESTAMP")


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(), server_default=_utc_now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "patrons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("language", sa.String(length=3), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("block_reason", sa.String(length=255), nullable=False),
        sa.Column("fine_balance_cents", sa.Integer(), nullable=False),
        sa.Column("loan_limit", sa.Integer(), nullable=True),
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("pin_hash", sa.Text(), nullable=True),
        sa.Column("pin_must_change", sa.Boolean(), nullable=False),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("pin_locked_until", sa.DateTime(), nullable=True),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_patrons"),
        sa.UniqueConstraint("barcode", name="uq_patrons_barcode"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("call_number", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=3), nullable=False),
        sa.Column("permanent_location", sa.String(length=64), nullable=False),
        sa.Column("current_location", sa.String(length=64), nullable=False),
        sa.Column("circulation_status", sa.String(length=2), nullable=False),
        sa.Column("security_marker", sa.String(length=2), nullable=False),
        sa.Column("holding_library", sa.String(length=64), nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("checkout_fee_cents", sa.Integer(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.UniqueConstraint("barcode", name="uq_items_barcode"),
    )
    op.create_table(
        "kiosk_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("location_code", sa.String(length=64), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("error_detection", sa.String(length=8), nullable=False),
        sa.Column("terminator", sa.String(length=4), nullable=False),
        sa.Column("allowed_networks", sa.Text(), nullable=False),
        sa.Column("can_checkout", sa.Boolean(), nullable=False),
        sa.Column("can_checkin", sa.Boolean(), nullable=False),
        sa.Column("can_renew", sa.Boolean(), nullable=False),
        sa.Column("can_fee_paid", sa.Boolean(), nullable=False),
        sa.Column("can_hold", sa.Boolean(), nullable=False),
        sa.Column("can_status_update", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _stamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_kiosk_accounts"),
        sa.UniqueConstraint("login", name="uq_kiosk_accounts_login"),
    )
    op.create_table(
        "loan_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=3), nullable=True),
        sa.Column("profile", sa.String(length=32), nullable=True),
        sa.Column("loan_days", sa.Integer(), nullable=False),
        sa.Column("renewal_limit", sa.Integer(), nullable=False),
        sa.Column("max_loans", sa.Integer(), nullable=False),
        sa.Column("fine_threshold_cents", sa.Integer(), nullable=False),
        sa.Column("daily_fine_cents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_loan_policies"),
        sa.UniqueConstraint("media_type", "profile", name="uq_loan_policies_scope"),
    )
    op.create_table(
        "loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("checked_out_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["kiosk_accounts.id"], name="fk_loans_account_id_kiosk_accounts"
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_loans_item_id_items"),
        sa.ForeignKeyConstraint(["patron_id"], ["patrons.id"], name="fk_loans_patron_id_patrons"),
        sa.PrimaryKeyConstraint("id", name="pk_loans"),
    )
    # The one-open-loan rule: a partial unique index, so the database itself refuses a second
    # open loan for an item however many kiosks race for it.
    op.create_index(
        "uq_loans_open_item",
        "loans",
        ["item_id"],
        unique=True,
        sqlite_where=sa.text("returned_at IS NULL"),
        postgresql_where=sa.text("returned_at IS NULL"),
    )
    op.create_index("ix_loans_patron_open", "loans", ["patron_id", "returned_at"])
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("hold_type", sa.String(length=1), nullable=False),
        sa.Column("pickup_location", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_holds_item_id_items"),
        sa.ForeignKeyConstraint(["patron_id"], ["patrons.id"], name="fk_holds_patron_id_patrons"),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
    )
    op.create_index("ix_holds_item_status", "holds", ["item_id", "status"])
    op.create_index("ix_holds_patron_id", "holds", ["patron_id"])
    op.create_table(
        "fees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("fee_type", sa.String(length=2), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("paid_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_fees_item_id_items"),
        sa.ForeignKeyConstraint(["patron_id"], ["patrons.id"], name="fk_fees_patron_id_patrons"),
        sa.PrimaryKeyConstraint("id", name="pk_fees"),
    )
    op.create_index("ix_fees_patron_id", "fees", ["patron_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("fee_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_type", sa.String(length=2), nullable=False),
        sa.Column("fee_type", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["kiosk_accounts.id"], name="fk_payments_account_id_kiosk_accounts"
        ),
        sa.ForeignKeyConstraint(["fee_id"], ["fees.id"], name="fk_payments_fee_id_fees"),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name="fk_payments_patron_id_patrons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("account_id", "transaction_id", name="uq_payments_txn"),
    )
    op.create_index("ix_payments_patron_id", "payments", ["patron_id"])
    op.create_table(
        "circulation_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_login", sa.String(length=64), nullable=False),
        sa.Column("patron_barcode", sa.String(length=64), nullable=False),
        sa.Column("item_barcode", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("screen_message", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_circulation_journal"),
    )
    op.create_index("ix_circulation_journal_at", "circulation_journal", ["at"])
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("patron_barcode", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_failures"),
    )
    op.create_index("ix_auth_failures_scope_key_at", "auth_failures", ["scope", "key", "at"])


def downgrade() -> None:
    for table in (
        "auth_failures",
        "circulation_journal",
        "payments",
        "fees",
        "holds",
        "loans",
        "loan_policies",
        "kiosk_accounts",
        "items",
        "patrons",
    ):
        # Dropping a table drops its indexes with it on both engines.
        op.drop_table(table)
