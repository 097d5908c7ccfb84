"""Fees as staff see them: list, charge by hand, waive.

A patron's ``fine_balance_cents`` is kept equal to the sum of their unpaid fees by changing it
in the same transaction as the fee (the models' rule); every function here does both or
neither. A waiver forgives what is still owed by lowering the fee's amount to what was paid, so
the fee drops out of every "unpaid" query, and notes the forgiven sum in its description; the
audit trail (written by the caller) says who waived it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from sip2d.storage.models import fees, items, patrons
from sip2d.storage.prepared import Prepared
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
_CHARGE_PATRON = Prepared(
    update(patrons)
    .where(patrons.c.id == bindparam("key"))
    .values(
        fine_balance_cents=patrons.c.fine_balance_cents + bindparam("cents"),
        updated_at=bindparam("now"),
    )
)


def add_fee(
    conn: Connection,
    patron_id: int,
    item_id: int | None,
    fee_type: str,
    cents: int,
    currency: str,
    description: str,
    now: datetime,
) -> int:
    """Charge a patron a fee (and raise their balance by it); the new fee's id."""
    fee_id = _INSERT_FEE.scalar(
        conn,
        {
            "patron_id": patron_id,
            "item_id": item_id,
            "fee_type": fee_type,
            "cents": cents,
            "currency": currency,
            "description": description[:255],
            "now": now,
        },
    )
    _CHARGE_PATRON.run(conn, {"key": patron_id, "cents": cents, "now": now})
    return int(fee_id)


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
    _CHARGE_PATRON.run(conn, {"key": fee.patron_id, "cents": -owed, "now": now})
    return owed
