"""Kiosk permissions per message family, off-line transactions as a permission, and who set a
patron's block (issue #14).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

``kiosk_accounts.can_status_update`` granted 01 Block Patron, 25 Patron Enable and 19 Item
Status Update at once. It becomes ``can_block_patron``, ``can_enable_patron`` and
``can_item_status``, each starting from the old value so that no kiosk gains or loses a family,
and ``can_offline`` joins them, false for every existing account: taking no-block transactions
as off-line ones is a new grant, so nobody has it until staff give it.

``patrons.block_source`` says who set the current block. A block that exists already has no
known origin and is taken as staff's: a kiosk may lift only a block a kiosk set, and a block of
unknown origin must not be one.

No table is rebuilt, on purpose. SQLite alters little in place, so Alembic's batch mode would
rebuild ``patrons`` and ``kiosk_accounts`` (copy, drop, rename) to drop a column or a default;
but loans, holds, fees and payments refer to those tables, and SQLite refuses to drop them
inside the migration's transaction while foreign keys are on (``PRAGMA foreign_keys`` cannot be
switched off inside a transaction). So every batch here is ``recreate="never"``: the columns
are added NOT NULL with a server default (which SQLite requires for that, and which the models
keep), and ``can_status_update`` goes with SQLite's own ``DROP COLUMN`` (3.35, the version
that ``RETURNING`` already needs). PostgreSQL runs the same operations as plain ALTER TABLEs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD_PERMISSION = "can_status_update"
# What the old permission granted, one column per message family.
SPLIT_PERMISSIONS = ("can_block_patron", "can_enable_patron", "can_item_status")
NEW_PERMISSIONS = (*SPLIT_PERMISSIONS, "can_offline")


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)


def _accounts() -> sa.TableClause:
    names = (OLD_PERMISSION, *SPLIT_PERMISSIONS)
    return sa.table("kiosk_accounts", *(sa.column(name, sa.Boolean()) for name in names))


def upgrade() -> None:
    with op.batch_alter_table("patrons", recreate="never") as batch:
        batch.add_column(
            sa.Column(
                "block_source", sa.String(length=16), server_default=sa.text("''"), nullable=False
            )
        )
    patrons = sa.table(
        "patrons", sa.column("blocked", sa.Boolean()), sa.column("block_source", sa.String())
    )
    op.execute(patrons.update().where(patrons.c.blocked).values(block_source="staff"))

    with op.batch_alter_table("kiosk_accounts", recreate="never") as batch:
        for name in NEW_PERMISSIONS:
            batch.add_column(_flag(name))
    accounts = _accounts()
    old = accounts.c[OLD_PERMISSION]
    op.execute(accounts.update().values({name: old for name in SPLIT_PERMISSIONS}))
    with op.batch_alter_table("kiosk_accounts", recreate="never") as batch:
        batch.drop_column(OLD_PERMISSION)


def downgrade() -> None:
    # The old permission comes back only where all three of its parts are granted: a downgrade
    # must not hand a kiosk a family that staff had taken away. It keeps a server default that
    # 0001 did not have, for the reason the module docstring gives.
    with op.batch_alter_table("kiosk_accounts", recreate="never") as batch:
        batch.add_column(_flag(OLD_PERMISSION))
    accounts = _accounts()
    granted = sa.and_(*(accounts.c[name] for name in SPLIT_PERMISSIONS))
    op.execute(accounts.update().where(granted).values({OLD_PERMISSION: True}))
    with op.batch_alter_table("kiosk_accounts", recreate="never") as batch:
        for name in NEW_PERMISSIONS:
            batch.drop_column(name)
    with op.batch_alter_table("patrons", recreate="never") as batch:
        batch.drop_column("block_source")
