"""Deleting patrons, items and kiosk accounts without losing what is owed or lent by surprise.

A patron with open loans or unpaid fees, or an item that is on loan or owed for, is refused
(:class:`HasObligations`) unless the caller forces it; the refusal says what is in the way so
staff can settle it first. A forced delete removes the record's loans, holds, fees and
payments with it (they cannot outlive what they refer to), and returns how many of each went,
for the audit trail. Deleting an item keeps the fees and payments charged for it, without the
link: the money a patron owes does not vanish with the copy. The circulation journal names
barcodes, not rows, so its history stays.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import Connection, Table, delete, func, select, update

from sip2d.storage.errors import NotFound, StorageError
from sip2d.storage.models import fees, holds, items, kiosk_accounts, loans, patrons, payments
from sip2d.storage.values import shown


class HasObligations(StorageError):
    """A delete that would lose open loans or money owed, refused because it was not forced."""


@dataclasses.dataclass(frozen=True, slots=True)
class Obligations:
    open_loans: int
    unpaid_fees: int
    unpaid_cents: int

    def __bool__(self) -> bool:
        return bool(self.open_loans or self.unpaid_fees)

    def describe(self) -> str:
        parts = []
        if self.open_loans:
            parts.append(f"{self.open_loans} open loan(s)")
        if self.unpaid_fees:
            parts.append(f"{self.unpaid_fees} unpaid fee(s) of {self.unpaid_cents / 100:.2f}")
        return " and ".join(parts)


def _obligations(conn: Connection, column: str, key: int) -> Obligations:
    open_loans = conn.execute(
        select(func.count()).where(loans.c[column] == key, loans.c.returned_at.is_(None))
    ).scalar_one()
    unpaid, cents = conn.execute(
        select(
            func.count(), func.coalesce(func.sum(fees.c.amount_cents - fees.c.paid_cents), 0)
        ).where(fees.c[column] == key, fees.c.paid_cents < fees.c.amount_cents)
    ).one()
    return Obligations(int(open_loans), int(unpaid), int(cents))


def _locked_id(conn: Connection, table: Table, column: str, key: str, what: str) -> int:
    """The id of the row whose ``column`` is ``key``, locked for the rest of the transaction
    (PostgreSQL; SQLite's write transaction holds the only write lock), so a kiosk cannot lend
    to a patron or an item while it is being deleted."""
    found = conn.execute(
        select(table.c.id).where(table.c[column] == key).with_for_update()
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no {what} with {column} {shown(key)}")
    return int(found)


def delete_patron(conn: Connection, barcode: str, *, force: bool) -> dict[str, int]:
    """Delete a patron (and, when forced, what hangs off them); counts of what went."""
    patron_id = _locked_id(conn, patrons, "barcode", barcode, "patron")
    owed = _obligations(conn, "patron_id", patron_id)
    if owed and not force:
        raise HasObligations(
            f"patron {barcode} has {owed.describe()}; settle them first or use --force"
        )
    # Items this patron still had come back as available: the copy is on the shelf or lost,
    # and staff see that at checkin; a loan with no borrower would block it for ever.
    on_loan = select(loans.c.item_id).where(
        loans.c.patron_id == patron_id, loans.c.returned_at.is_(None)
    )
    conn.execute(update(items).where(items.c.id.in_(on_loan)).values(circulation_status="03"))
    gone = {
        "open_loans": owed.open_loans,
        "unpaid_fees": owed.unpaid_fees,
        "unpaid_cents": owed.unpaid_cents,
        "payments": conn.execute(
            delete(payments).where(payments.c.patron_id == patron_id)
        ).rowcount,
        "fees": conn.execute(delete(fees).where(fees.c.patron_id == patron_id)).rowcount,
        "holds": conn.execute(delete(holds).where(holds.c.patron_id == patron_id)).rowcount,
        "loans": conn.execute(delete(loans).where(loans.c.patron_id == patron_id)).rowcount,
    }
    conn.execute(delete(patrons).where(patrons.c.id == patron_id))
    return {name: int(count) for name, count in gone.items()}


def delete_item(conn: Connection, barcode: str, *, force: bool) -> dict[str, int]:
    """Delete an item (and, when forced, its loans and holds); counts of what went."""
    item_id = _locked_id(conn, items, "barcode", barcode, "item")
    owed = _obligations(conn, "item_id", item_id)
    if owed and not force:
        raise HasObligations(
            f"item {barcode} has {owed.describe()}; settle them first or use --force"
        )
    gone = {
        "open_loans": owed.open_loans,
        "unpaid_fees": owed.unpaid_fees,
        "loans": conn.execute(delete(loans).where(loans.c.item_id == item_id)).rowcount,
        "holds": conn.execute(delete(holds).where(holds.c.item_id == item_id)).rowcount,
        "fees_kept": conn.execute(
            update(fees).where(fees.c.item_id == item_id).values(item_id=None)
        ).rowcount,
    }
    conn.execute(delete(items).where(items.c.id == item_id))
    return {name: int(count) for name, count in gone.items()}


def delete_account(conn: Connection, login: str) -> dict[str, int]:
    """Delete a kiosk account; loans and payments it made keep their history without the link."""
    account_id = _locked_id(conn, kiosk_accounts, "login", login, "kiosk account")
    gone = {
        "loans_unlinked": conn.execute(
            update(loans).where(loans.c.account_id == account_id).values(account_id=None)
        ).rowcount,
        "payments_unlinked": conn.execute(
            update(payments).where(payments.c.account_id == account_id).values(account_id=None)
        ).rowcount,
    }
    conn.execute(delete(kiosk_accounts).where(kiosk_accounts.c.id == account_id))
    return {name: int(count) for name, count in gone.items()}
