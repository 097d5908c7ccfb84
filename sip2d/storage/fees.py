"""Fee and payment statements: charging a fee, finding what is owed, recording a payment, and
the staff view (list, waive).

A patron's ``fine_balance_cents`` is the sum of what their fees still owe; every function here
that changes a fee or a payment changes that balance in the same transaction, so the two never
disagree. Which fees a payment settles (oldest first) is a library rule and lives in
:mod:`sip2d.circulation.rules`. A waiver forgives what is still owed by lowering the fee's
amount to what was paid, so the fee drops out of every "unpaid" query, and notes the forgiven
sum in its description; the audit trail (written by the caller) says who waived it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from sip2d.storage.models import fees, items, patrons, payments
from sip2d.storage.prepared import Prepared
from sip2d.storage.queries import fees_of_patron
from sip2d.storage.records import FeeRecord

_INSERT_FEE = Prepared(
    insert(fees)
    .values(
        patron_id=bindparam("patron_id"),
        item_id=bindparam("item_id"),
        fee_type=bindparam("fee_type"),
        amount_cents=bindparam("cents"),
        currency=bindparam("currency"),
        description=bindparam("description"),
        created_at=bindparam("now"),
    )
    .returning(fees.c.id)
)
_ADD_TO_BALANCE = Prepared(
    update(patrons)
    .where(patrons.c.id == bindparam("key"))
    .values(
        fine_balance_cents=patrons.c.fine_balance_cents + bindparam("cents"),
        updated_at=bindparam("now"),
    )
)
_UNPAID_FEE = Prepared(
    select(fees).where(
        fees.c.patron_id == bindparam("for_patron"),
        fees.c.id == bindparam("key"),
        fees.c.paid_cents < fees.c.amount_cents,
    ),
    record=FeeRecord,
)
# A payment with no kiosk account (tools, tests) matches earlier ones without one: IS NULL,
# which ``account_id = NULL`` would never be.
_PAYMENT_OF_ACCOUNT = Prepared(
    select(payments.c.id).where(
        payments.c.account_id == bindparam("account"),
        payments.c.transaction_id == bindparam("txn"),
    )
)
_PAYMENT_WITHOUT_ACCOUNT = Prepared(
    select(payments.c.id).where(
        payments.c.account_id.is_(None), payments.c.transaction_id == bindparam("txn")
    )
)
_PAY_TOWARD = Prepared(
    update(fees)
    .where(fees.c.id == bindparam("key"))
    .values(paid_cents=fees.c.paid_cents + bindparam("cents"))
)
_INSERT_PAYMENT = Prepared(
    insert(payments)
    .values(
        patron_id=bindparam("patron_id"),
        fee_id=bindparam("fee_id"),
        account_id=bindparam("account_id"),
        transaction_id=bindparam("transaction_id"),
        amount_cents=bindparam("amount_cents"),
        currency=bindparam("currency"),
        payment_type=bindparam("payment_type"),
        fee_type=bindparam("fee_type"),
        created_at=bindparam("created_at"),
    )
    .returning(payments.c.id)
)


def add_fee(
    conn: Connection,
    *,
    patron_id: int,
    item_id: int | None,
    fee_type: str,
    cents: int,
    currency: str,
    description: str,
    at: datetime,
) -> int:
    """Charge the patron a fee (and add it to their balance); the new fee's id."""
    fee_id = _INSERT_FEE.scalar(
        conn,
        {
            "patron_id": patron_id,
            "item_id": item_id,
            "fee_type": fee_type,
            "cents": cents,
            "currency": currency,
            "description": description[:255],
            "now": at,
        },
    )
    _ADD_TO_BALANCE.run(conn, {"key": patron_id, "cents": cents, "now": at})
    return int(fee_id)


def unpaid_fees(conn: Connection, patron_id: int, fee_id: int | None = None) -> list[FeeRecord]:
    """What the patron still owes, oldest first; with ``fee_id`` only that fee, if it is theirs."""
    if fee_id is None:
        return fees_of_patron(conn, patron_id)
    found = _UNPAID_FEE.record(conn, {"for_patron": patron_id, "key": fee_id})
    return [] if found is None else [found]


def payment_recorded(conn: Connection, account_id: int | None, transaction_id: str) -> bool:
    """Whether this kiosk account already paid under ``transaction_id`` (37 is idempotent)."""
    if account_id is None:
        found = _PAYMENT_WITHOUT_ACCOUNT.first(conn, {"txn": transaction_id})
    else:
        found = _PAYMENT_OF_ACCOUNT.first(conn, {"account": account_id, "txn": transaction_id})
    return found is not None


def pay_toward_fee(conn: Connection, fee_id: int, cents: int) -> None:
    """Count ``cents`` as paid on one fee (the balance moves in :func:`record_payment`)."""
    _PAY_TOWARD.run(conn, {"key": fee_id, "cents": cents})


def record_payment(
    conn: Connection,
    *,
    patron_id: int,
    fee_id: int | None,
    account_id: int | None,
    transaction_id: str | None,
    amount_cents: int,
    currency: str,
    payment_type: str,
    fee_type: str,
    at: datetime,
) -> int:
    """Store a payment and take it off the patron's balance; the payment's id."""
    _ADD_TO_BALANCE.run(conn, {"key": patron_id, "cents": -amount_cents, "now": at})
    payment_id = _INSERT_PAYMENT.scalar(
        conn,
        {
            "patron_id": patron_id,
            "fee_id": fee_id,
            "account_id": account_id,
            "transaction_id": transaction_id,
            "amount_cents": amount_cents,
            "currency": currency,
            "payment_type": payment_type,
            "fee_type": fee_type,
            "created_at": at,
        },
    )
    return int(payment_id)


@dataclasses.dataclass(frozen=True, slots=True)
class FeeLine:
    """A fee with the barcodes a person recognises."""

    fee: FeeRecord
    patron_barcode: str
    item_barcode: str | None


def list_fees(
    conn: Connection, *, patron_id: int | None = None, unpaid_only: bool = True, limit: int = 100
) -> list[FeeLine]:
    """Fees, oldest first, of one patron or of everyone."""
    query = (
        select(fees, patrons.c.barcode.label("patron_barcode"), items.c.barcode.label("item"))
        .join(patrons, patrons.c.id == fees.c.patron_id)
        .outerjoin(items, items.c.id == fees.c.item_id)
        .order_by(fees.c.created_at, fees.c.id)
        .limit(limit)
    )
    if patron_id is not None:
        query = query.where(fees.c.patron_id == patron_id)
    if unpaid_only:
        query = query.where(fees.c.paid_cents < fees.c.amount_cents)
    return [
        FeeLine(FeeRecord.from_row(row), row.patron_barcode, row.item)
        for row in conn.execute(query)
    ]


def waive_fee(conn: Connection, fee_id: int, now: datetime) -> int | None:
    """Forgive what is still owed on a fee; the cents forgiven (0 when it was paid already), or
    None when there is no such fee.

    The patron's row is locked first, as a kiosk's 37 Fee Paid locks it
    (:func:`sip2d.circulation.rules.fee_paid`), and the fee read after: a payment and a waiver
    of one fee take turns instead of both counting the same money.
    """
    patron_id = conn.execute(select(fees.c.patron_id).where(fees.c.id == fee_id)).scalar()
    if patron_id is None:
        return None
    conn.execute(select(patrons.c.id).where(patrons.c.id == patron_id).with_for_update())
    row = conn.execute(select(fees).where(fees.c.id == fee_id)).first()
    if row is None:
        return None
    fee = FeeRecord.from_row(row)
    owed = fee.outstanding_cents
    if owed <= 0:
        return 0
    note = f"{fee.description} (waived {owed / 100:.2f})".strip()[:255]
    conn.execute(
        update(fees)
        .where(fees.c.id == fee_id)
        .values(amount_cents=fee.paid_cents, description=note)
    )
    _ADD_TO_BALANCE.run(conn, {"key": fee.patron_id, "cents": -owed, "now": now})
    return owed
