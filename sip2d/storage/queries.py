"""Typed read helpers over a Connection, in SQLAlchemy Core.

These run once or more per kiosk message, so they are Core ``select()`` statements returning
the frozen records of :mod:`sip2d.storage.records`, never ORM objects. The hot ones are built
once at import with ``bindparam()``: building a ``select().where()`` per call cost more than the
query itself (its cache key is recomputed each time; profiled at ~200 µs a statement), while a
prebuilt statement memoises its key and reuses the compiled SQL. The hot ones go further and are
:class:`~sip2d.storage.prepared.Prepared`: compiled once per dialect and run on the driver's
cursor, about a quarter of ``conn.execute``'s cost. Each helper takes the caller's connection
and runs inside the caller's transaction; none commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, DateTime, bindparam, func, literal, or_, select

from sip2d.storage.models import fees, holds, items, kiosk_accounts, loan_policies, loans, patrons
from sip2d.storage.policies import DEFAULT_POLICY, policy_choice
from sip2d.storage.prepared import Prepared
from sip2d.storage.records import (
    FeeRecord,
    HoldRecord,
    ItemRecord,
    KioskAccountRecord,
    LoanPolicyRecord,
    LoanRecord,
    PatronFee,
    PatronHold,
    PatronLoan,
    PatronRecord,
)

ACTIVE_HOLD_STATUSES = ("waiting", "ready")
ACTIVE_HOLD = or_(*(holds.c.status == status for status in ACTIVE_HOLD_STATUSES))


def _open_loans_of(patron_id: ColumnElement[Any]) -> tuple[ColumnElement[bool], ...]:
    """The conditions for a patron's open loans: by a bound id, or the patron row's own."""
    return (loans.c.patron_id == patron_id, loans.c.returned_at.is_(None))


_PATRON_BY_BARCODE = Prepared(
    select(patrons).where(patrons.c.barcode == bindparam("key")), record=PatronRecord
)
_PATRON_BY_ID = Prepared(
    select(patrons).where(patrons.c.id == bindparam("key")), record=PatronRecord
)
_ITEM_BY_BARCODE = Prepared(
    select(items).where(items.c.barcode == bindparam("key")), record=ItemRecord
)
_ITEM_BY_ID = Prepared(select(items).where(items.c.id == bindparam("key")), record=ItemRecord)
_ACCOUNT_BY_LOGIN = Prepared(
    select(kiosk_accounts).where(kiosk_accounts.c.login == bindparam("key")),
    record=KioskAccountRecord,
)
_OPEN_LOAN_OF_ITEM = Prepared(
    select(loans).where(loans.c.item_id == bindparam("key"), loans.c.returned_at.is_(None)),
    record=LoanRecord,
)
_OPEN_LOANS_OF_PATRON = Prepared(
    select(
        loans.c.id,
        loans.c.item_id,
        items.c.barcode.label("item_barcode"),
        items.c.title,
        items.c.media_type,
        loans.c.checked_out_at,
        loans.c.due_at,
        loans.c.renewals,
        loans.c.offline,
    )
    .join(items, items.c.id == loans.c.item_id)
    .where(*_open_loans_of(bindparam("key")))
    .order_by(loans.c.due_at, loans.c.id),
    record=PatronLoan,
)
_COUNT_OPEN_LOANS = Prepared(select(func.count()).where(*_open_loans_of(bindparam("key"))))


# Everything 23 Patron Status needs in one statement, so one SELECT (one snapshot, one round
# trip) serves it: the patron, the loan policy for the patron's profile (outer-joined: with no
# policy row the default applies) and the patron's charged and overdue loan counts.
_OPEN_LOANS_HERE = _open_loans_of(patrons.c.id)
_STANDING_POLICY = (
    policy_choice(literal(""), patrons.c.profile)
    .with_only_columns(loan_policies.c.id)
    .correlate(patrons)  # the patron's profile; the policy table is the subquery's own
)
_PATRON_STANDING = Prepared(
    select(
        *patrons.c,
        *(column.label(f"policy_{column.key}") for column in loan_policies.c),
        select(func.count()).where(*_OPEN_LOANS_HERE).scalar_subquery().label("charged"),
        select(func.count())
        .where(*_OPEN_LOANS_HERE, loans.c.due_at < bindparam("now", type_=DateTime))
        .scalar_subquery()
        .label("overdue"),
    )
    .select_from(
        patrons.outerjoin(loan_policies, loan_policies.c.id == _STANDING_POLICY.scalar_subquery())
    )
    .where(patrons.c.barcode == bindparam("key"))
)
_PATRON_WIDTH = len(patrons.c)
_POLICY_WIDTH = len(loan_policies.c)


@dataclass(frozen=True, slots=True)
class PatronStanding:
    """A patron with the loan policy of their profile and their open and overdue loans."""

    patron: PatronRecord
    policy: LoanPolicyRecord
    charged: int
    overdue: int


def patron_standing(conn: Connection, barcode: str, now: datetime) -> PatronStanding | None:
    """The patron with ``barcode`` and what a status answer needs, in one statement.

    The same patron and policy as ``get_patron_by_barcode`` and ``resolve_loan_policy(conn,
    "", profile)`` (a test holds it to them); being one statement, everything it returns comes
    from one snapshot.
    """
    row = _PATRON_STANDING.first(conn, {"key": barcode, "now": now})
    if row is None:
        return None
    policy_row = row[_PATRON_WIDTH : _PATRON_WIDTH + _POLICY_WIDTH]
    policy = DEFAULT_POLICY if policy_row[0] is None else LoanPolicyRecord(*policy_row)
    charged, overdue = row[_PATRON_WIDTH + _POLICY_WIDTH :]
    return PatronStanding(PatronRecord(*row[:_PATRON_WIDTH]), policy, charged, overdue)


def get_patron_by_barcode(conn: Connection, barcode: str) -> PatronRecord | None:
    return _PATRON_BY_BARCODE.record(conn, {"key": barcode})


def get_patron(conn: Connection, patron_id: int) -> PatronRecord | None:
    return _PATRON_BY_ID.record(conn, {"key": patron_id})


def get_item_by_barcode(conn: Connection, barcode: str) -> ItemRecord | None:
    return _ITEM_BY_BARCODE.record(conn, {"key": barcode})


def get_item(conn: Connection, item_id: int) -> ItemRecord | None:
    return _ITEM_BY_ID.record(conn, {"key": item_id})


def get_account_by_login(conn: Connection, login: str) -> KioskAccountRecord | None:
    return _ACCOUNT_BY_LOGIN.record(conn, {"key": login})


def open_loan_of_item(conn: Connection, item_id: int) -> LoanRecord | None:
    """The item's open loan, if any (served by the partial unique index)."""
    return _OPEN_LOAN_OF_ITEM.record(conn, {"key": item_id})


def open_loans_of_patron(conn: Connection, patron_id: int) -> list[PatronLoan]:
    """The patron's open loans with item barcode and title, oldest due date first."""
    return _OPEN_LOANS_OF_PATRON.records(conn, {"key": patron_id})


def count_open_loans(conn: Connection, patron_id: int) -> int:
    return int(_COUNT_OPEN_LOANS.scalar(conn, {"key": patron_id}))


_FEES_BASE = select(fees).where(fees.c.patron_id == bindparam("key"))
_FEES_ORDER = (fees.c.created_at, fees.c.id)
_UNPAID = fees.c.paid_cents < fees.c.amount_cents
_UNPAID_FEES = Prepared(_FEES_BASE.where(_UNPAID).order_by(*_FEES_ORDER), record=FeeRecord)
_ALL_FEES = Prepared(_FEES_BASE.order_by(*_FEES_ORDER), record=FeeRecord)
_ACTIVE_HOLDS_OF_PATRON = Prepared(
    select(holds)
    .where(holds.c.patron_id == bindparam("key"), ACTIVE_HOLD)
    .order_by(holds.c.created_at, holds.c.id),
    record=HoldRecord,
)
# Queue order on one copy: a ``ready`` hold first, then oldest first.
HOLD_QUEUE_ORDER = ((holds.c.status == "ready").desc(), holds.c.created_at, holds.c.id)
_ACTIVE_HOLDS_ON_ITEM = Prepared(
    select(holds)
    .where(holds.c.item_id == bindparam("key"), ACTIVE_HOLD)
    .order_by(*HOLD_QUEUE_ORDER),
    record=HoldRecord,
)

# A 64's lists name copies by barcode: outer-joined here, not one get_item per hold or fee.
_LISTED_HOLDS_OF_PATRON = Prepared(
    select(
        holds.c.id,
        holds.c.item_id,
        items.c.barcode.label("item_barcode"),
        holds.c.title,
        holds.c.status,
    )
    .select_from(holds.outerjoin(items, items.c.id == holds.c.item_id))
    .where(holds.c.patron_id == bindparam("key"), ACTIVE_HOLD)
    .order_by(holds.c.created_at, holds.c.id),
    record=PatronHold,
)
_LISTED_FEES_OF_PATRON = Prepared(
    select(
        fees.c.id,
        fees.c.item_id,
        items.c.barcode.label("item_barcode"),
        fees.c.description,
    )
    .select_from(fees.outerjoin(items, items.c.id == fees.c.item_id))
    .where(fees.c.patron_id == bindparam("key"), _UNPAID)
    .order_by(*_FEES_ORDER),
    record=PatronFee,
)


def fees_of_patron(
    conn: Connection, patron_id: int, *, unpaid_only: bool = True
) -> list[FeeRecord]:
    """The patron's fees, oldest first; by default only those with something left to pay."""
    query = _UNPAID_FEES if unpaid_only else _ALL_FEES
    return query.records(conn, {"key": patron_id})


def holds_of_patron(conn: Connection, patron_id: int) -> list[HoldRecord]:
    """The patron's active holds (waiting or ready), oldest first."""
    return _ACTIVE_HOLDS_OF_PATRON.records(conn, {"key": patron_id})


def holds_on_item(conn: Connection, item_id: int) -> list[HoldRecord]:
    """The item's active holds in queue order: a ``ready`` hold first, then oldest first."""
    return _ACTIVE_HOLDS_ON_ITEM.records(conn, {"key": item_id})


def listed_holds_of_patron(conn: Connection, patron_id: int) -> list[PatronHold]:
    """The patron's active holds with their copies' barcodes, oldest first (one statement)."""
    return _LISTED_HOLDS_OF_PATRON.records(conn, {"key": patron_id})


def listed_fees_of_patron(conn: Connection, patron_id: int) -> list[PatronFee]:
    """The patron's unpaid fees with their copies' barcodes, oldest first (one statement)."""
    return _LISTED_FEES_OF_PATRON.records(conn, {"key": patron_id})
