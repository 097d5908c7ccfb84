"""Typed read helpers over a Connection, in SQLAlchemy Core.

These run once or more per kiosk message, so they are Core ``select()`` statements (cached
compiled forms, ~50 µs on SQLite) returning the frozen records of
:mod:`sip2d.storage.records`, never ORM objects. Each takes the caller's connection and runs
inside the caller's transaction; none commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, select

from sip2d.storage.models import fees, holds, items, kiosk_accounts, loans, patrons
from sip2d.storage.records import (
    FeeRecord,
    HoldRecord,
    ItemRecord,
    KioskAccountRecord,
    LoanRecord,
    PatronLoan,
    PatronRecord,
)

ACTIVE_HOLD_STATUSES = ("waiting", "ready")


def get_patron_by_barcode(conn: Connection, barcode: str) -> PatronRecord | None:
    row = conn.execute(select(patrons).where(patrons.c.barcode == barcode)).first()
    return None if row is None else PatronRecord.from_row(row)


def get_patron(conn: Connection, patron_id: int) -> PatronRecord | None:
    row = conn.execute(select(patrons).where(patrons.c.id == patron_id)).first()
    return None if row is None else PatronRecord.from_row(row)


def get_item_by_barcode(conn: Connection, barcode: str) -> ItemRecord | None:
    row = conn.execute(select(items).where(items.c.barcode == barcode)).first()
    return None if row is None else ItemRecord.from_row(row)


def get_item(conn: Connection, item_id: int) -> ItemRecord | None:
    row = conn.execute(select(items).where(items.c.id == item_id)).first()
    return None if row is None else ItemRecord.from_row(row)


def get_account_by_login(conn: Connection, login: str) -> KioskAccountRecord | None:
    row = conn.execute(select(kiosk_accounts).where(kiosk_accounts.c.login == login)).first()
    return None if row is None else KioskAccountRecord.from_row(row)


def open_loan_of_item(conn: Connection, item_id: int) -> LoanRecord | None:
    """The item's open loan, if any (served by the partial unique index)."""
    row = conn.execute(
        select(loans).where(loans.c.item_id == item_id, loans.c.returned_at.is_(None))
    ).first()
    return None if row is None else LoanRecord.from_row(row)


def open_loans_of_patron(conn: Connection, patron_id: int) -> list[PatronLoan]:
    """The patron's open loans with item barcode and title, oldest due date first."""
    stmt = (
        select(
            loans.c.id,
            loans.c.item_id,
            items.c.barcode.label("item_barcode"),
            items.c.title,
            loans.c.checked_out_at,
            loans.c.due_at,
            loans.c.renewals,
            loans.c.offline,
        )
        .join(items, items.c.id == loans.c.item_id)
        .where(loans.c.patron_id == patron_id, loans.c.returned_at.is_(None))
        .order_by(loans.c.due_at, loans.c.id)
    )
    return [PatronLoan.from_row(row) for row in conn.execute(stmt)]


def count_open_loans(conn: Connection, patron_id: int) -> int:
    stmt = select(func.count()).where(loans.c.patron_id == patron_id, loans.c.returned_at.is_(None))
    return int(conn.execute(stmt).scalar_one())


def fees_of_patron(
    conn: Connection, patron_id: int, *, unpaid_only: bool = True
) -> list[FeeRecord]:
    """The patron's fees, oldest first; by default only those with something left to pay."""
    stmt = select(fees).where(fees.c.patron_id == patron_id).order_by(fees.c.created_at, fees.c.id)
    if unpaid_only:
        stmt = stmt.where(fees.c.paid_cents < fees.c.amount_cents)
    return [FeeRecord.from_row(row) for row in conn.execute(stmt)]


def holds_of_patron(
    conn: Connection, patron_id: int, statuses: Iterable[str] = ACTIVE_HOLD_STATUSES
) -> list[HoldRecord]:
    stmt = (
        select(holds)
        .where(holds.c.patron_id == patron_id, holds.c.status.in_(list(statuses)))
        .order_by(holds.c.created_at, holds.c.id)
    )
    return [HoldRecord.from_row(row) for row in conn.execute(stmt)]


def holds_on_item(
    conn: Connection, item_id: int, statuses: Iterable[str] = ACTIVE_HOLD_STATUSES
) -> list[HoldRecord]:
    """The item's active holds in queue order: a ``ready`` hold first, then oldest first."""
    stmt = (
        select(holds)
        .where(holds.c.item_id == item_id, holds.c.status.in_(list(statuses)))
        .order_by((holds.c.status == "ready").desc(), holds.c.created_at, holds.c.id)
    )
    return [HoldRecord.from_row(row) for row in conn.execute(stmt)]
