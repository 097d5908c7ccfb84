"""Typed read helpers over a Connection, in SQLAlchemy Core.

These run once or more per kiosk message, so they are Core ``select()`` statements returning
the frozen records of :mod:`sip2d.storage.records`, never ORM objects. The hot ones are built
once at import with ``bindparam()``: building a ``select().where()`` per call cost more than the
query itself (its cache key is recomputed each time; profiled at ~200 µs a statement), while a
prebuilt statement memoises its key and reuses the compiled SQL. Each helper takes the caller's
connection and runs inside the caller's transaction; none commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, func, select

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


_PATRON_BY_BARCODE = select(patrons).where(patrons.c.barcode == bindparam("key"))
_PATRON_BY_ID = select(patrons).where(patrons.c.id == bindparam("key"))
_ITEM_BY_BARCODE = select(items).where(items.c.barcode == bindparam("key"))
_ITEM_BY_ID = select(items).where(items.c.id == bindparam("key"))
_ACCOUNT_BY_LOGIN = select(kiosk_accounts).where(kiosk_accounts.c.login == bindparam("key"))
_OPEN_LOAN_OF_ITEM = select(loans).where(
    loans.c.item_id == bindparam("key"), loans.c.returned_at.is_(None)
)
_OPEN_LOANS_OF_PATRON = (
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
    .where(loans.c.patron_id == bindparam("key"), loans.c.returned_at.is_(None))
    .order_by(loans.c.due_at, loans.c.id)
)
_COUNT_OPEN_LOANS = select(func.count()).where(
    loans.c.patron_id == bindparam("key"), loans.c.returned_at.is_(None)
)


def get_patron_by_barcode(conn: Connection, barcode: str) -> PatronRecord | None:
    row = conn.execute(_PATRON_BY_BARCODE, {"key": barcode}).first()
    return None if row is None else PatronRecord.from_row(row)


def get_patron(conn: Connection, patron_id: int) -> PatronRecord | None:
    row = conn.execute(_PATRON_BY_ID, {"key": patron_id}).first()
    return None if row is None else PatronRecord.from_row(row)


def get_item_by_barcode(conn: Connection, barcode: str) -> ItemRecord | None:
    row = conn.execute(_ITEM_BY_BARCODE, {"key": barcode}).first()
    return None if row is None else ItemRecord.from_row(row)


def get_item(conn: Connection, item_id: int) -> ItemRecord | None:
    row = conn.execute(_ITEM_BY_ID, {"key": item_id}).first()
    return None if row is None else ItemRecord.from_row(row)


def get_account_by_login(conn: Connection, login: str) -> KioskAccountRecord | None:
    row = conn.execute(_ACCOUNT_BY_LOGIN, {"key": login}).first()
    return None if row is None else KioskAccountRecord.from_row(row)


def open_loan_of_item(conn: Connection, item_id: int) -> LoanRecord | None:
    """The item's open loan, if any (served by the partial unique index)."""
    row = conn.execute(_OPEN_LOAN_OF_ITEM, {"key": item_id}).first()
    return None if row is None else LoanRecord.from_row(row)


def open_loans_of_patron(conn: Connection, patron_id: int) -> list[PatronLoan]:
    """The patron's open loans with item barcode and title, oldest due date first."""
    return [
        PatronLoan.from_row(row) for row in conn.execute(_OPEN_LOANS_OF_PATRON, {"key": patron_id})
    ]


def count_open_loans(conn: Connection, patron_id: int) -> int:
    return int(conn.execute(_COUNT_OPEN_LOANS, {"key": patron_id}).scalar_one())


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
