"""The loan primitives: open, close and renew, safe under concurrent kiosks.

"At most one open loan per item" is enforced by the database (the partial unique index
``uq_loans_open_item``), not by a read-then-write check that two kiosks could both pass.
:func:`open_loan` simply inserts; when another transaction got there first the database
refuses, and the refusal becomes :class:`~sip2d.storage.errors.ItemAlreadyOnLoan`. The insert
runs inside a SAVEPOINT so that refusal leaves the caller's transaction usable: the caller can
still journal the refused checkout and commit.

On SQLite the caller should open its transaction for writing (execution option
``sqlite_write=True``, as ``DatabaseRunner.write`` does): writers then queue on the database
lock at BEGIN instead of failing when a read transaction tries to become a write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sip2d.storage.errors import ItemAlreadyOnLoan
from sip2d.storage.models import loans
from sip2d.storage.prepared import Prepared, Savepoint
from sip2d.storage.queries import open_loan_of_item
from sip2d.storage.records import LoanRecord

# Prepared (compiled once, run on the driver cursor): these run for every checkout and checkin.
_INSERT = Prepared(
    insert(loans)
    .values(
        item_id=bindparam("item_id"),
        patron_id=bindparam("patron_id"),
        account_id=bindparam("account_id"),
        checked_out_at=bindparam("checked_out_at"),
        due_at=bindparam("due_at"),
        renewals=0,
        returned_at=None,
        offline=bindparam("offline"),
    )
    .returning(loans.c.id)
)
_SAVEPOINT = Savepoint("sip2d_open_loan")
_CLOSE = Prepared(
    update(loans)
    .where(loans.c.item_id == bindparam("key"), loans.c.returned_at.is_(None))
    .values(returned_at=bindparam("returned_at"))
    .returning(*loans.c),
    record=LoanRecord,
)
_RENEW = Prepared(
    update(loans)
    .where(loans.c.id == bindparam("key"), loans.c.returned_at.is_(None))
    .values(due_at=bindparam("due_at"), renewals=loans.c.renewals + 1)
    .returning(*loans.c),
    record=LoanRecord,
)
_DELETE = Prepared(delete(loans).where(loans.c.id == bindparam("key")))
_LAST_CLOSED = Prepared(
    select(loans)
    .where(loans.c.item_id == bindparam("key"), loans.c.returned_at.is_not(None))
    .order_by(loans.c.returned_at.desc(), loans.c.id.desc())
    .limit(1),
    record=LoanRecord,
)
_REOPEN = Prepared(update(loans).where(loans.c.id == bindparam("key")).values(returned_at=None))


def open_loan(
    conn: Connection,
    item_id: int,
    patron_id: int,
    account_id: int | None,
    checked_out_at: datetime,
    due_at: datetime,
    offline: bool = False,
) -> int:
    """Record a new open loan and return its id; ItemAlreadyOnLoan if one is open already."""
    values = {
        "item_id": item_id,
        "patron_id": patron_id,
        "account_id": account_id,
        "checked_out_at": checked_out_at,
        "due_at": due_at,
        "offline": offline,
    }
    try:
        with _SAVEPOINT(conn):
            loan_id = _INSERT.scalar(conn, values)
    except IntegrityError:
        # The same error class covers a foreign key naming a missing item or patron; only an
        # open loan that is now visible means the one-open-loan rule refused us.
        if open_loan_of_item(conn, item_id) is not None:
            raise ItemAlreadyOnLoan(item_id) from None
        raise
    return int(loan_id)


def close_loan(conn: Connection, item_id: int, returned_at: datetime) -> LoanRecord | None:
    """Close the item's open loan and return it as closed; None if it was not on loan."""
    return _CLOSE.record(conn, {"key": item_id, "returned_at": returned_at})


def renew_loan(conn: Connection, loan_id: int, due_at: datetime) -> LoanRecord | None:
    """Move an open loan's due date and count the renewal; None if it is not open."""
    return _RENEW.record(conn, {"key": loan_id, "due_at": due_at})


def cancel_loan(conn: Connection, loan_id: int) -> None:
    """Remove a loan as if it never was: a checkout the kiosk could not finish (09 BI=Y)."""
    _DELETE.run(conn, {"key": loan_id})


def last_closed_loan(conn: Connection, item_id: int) -> LoanRecord | None:
    """The item's most recently returned loan, if it was ever returned."""
    return _LAST_CLOSED.record(conn, {"key": item_id})


def reopen_loan(conn: Connection, loan_id: int) -> None:
    """Undo a return: the loan is open again with its due date (11 BI=Y)."""
    _REOPEN.run(conn, {"key": loan_id})
