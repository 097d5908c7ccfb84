"""Prepared statements: the same answers as ``conn.execute``, on both engines.

The hot path runs its statements on the driver cursor (sip2d.storage.prepared), so these
tests hold it to what SQLAlchemy itself would return and raise: converted types, literal and
default values, the same exception classes, and the caller's transaction.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from sip2d.storage import queries
from sip2d.storage.models import fees, holds, items, patrons
from sip2d.storage.prepared import Prepared
from sip2d.storage.records import PatronRecord
from tests.storage.factories import add_item, add_patron

WHEN = datetime(2025, 3, 4, 10, 30, 15)


def test_rows_match_sqlalchemy_with_converted_types(engine: Engine) -> None:
    add_patron(
        engine,
        "2000001",
        expires_on=date(2026, 1, 31),
        blocked=True,
        pin_locked_until=WHEN,
        loan_limit=None,
    )
    by_barcode = Prepared(
        select(patrons).where(patrons.c.barcode == bindparam("key")), record=PatronRecord
    )
    with engine.connect() as conn:
        expected = conn.execute(select(patrons).where(patrons.c.barcode == "2000001")).one()
        row = by_barcode.first(conn, {"key": "2000001"})
        assert row == tuple(expected)
        assert row is not None and row[patrons.c.keys().index("expires_on")] == date(2026, 1, 31)
        record = by_barcode.record(conn, {"key": "2000001"})
        assert record == PatronRecord.from_row(expected)
        assert record is not None and record.blocked is True and record.pin_locked_until == WHEN
        assert by_barcode.first(conn, {"key": "missing"}) is None
        assert by_barcode.all(conn, {"key": "missing"}) == []


def test_literals_defaults_and_rowcount(engine: Engine) -> None:
    patron_id = add_patron(engine, "2000002")
    add_fee = Prepared(
        insert(fees)
        .values(
            patron_id=bindparam("patron_id"),
            item_id=None,
            fee_type="01",
            amount_cents=bindparam("cents"),
            currency="USD",
            description="",
            created_at=bindparam("at"),
        )
        .returning(fees.c.id, fees.c.paid_cents, fees.c.created_at)
    )
    rename = Prepared(
        update(patrons).where(patrons.c.id == bindparam("key")).values(name=bindparam("name"))
    )
    with engine.begin() as conn:
        fee_id, paid, created = (
            add_fee.first(conn, {"patron_id": patron_id, "cents": 250, "at": WHEN}) or ()
        )
        assert paid == 0  # the model's plain default, applied by Prepared as SQLAlchemy would
        assert created == WHEN and isinstance(fee_id, int)
        assert rename.run(conn, {"key": patron_id, "name": "Grace"}) == 1
        assert rename.run(conn, {"key": -1, "name": "nobody"}) == 0
    with engine.connect() as conn:
        assert (
            conn.execute(select(patrons.c.name).where(patrons.c.id == patron_id)).scalar()
            == "Grace"
        )


def test_runs_inside_the_callers_transaction(engine: Engine) -> None:
    add_item(engine, "3000001", title="Dune")
    retitle = Prepared(
        update(items).where(items.c.barcode == bindparam("key")).values(title=bindparam("title"))
    )
    with engine.connect() as conn:
        with conn.begin() as tx:
            retitle.run(conn, {"key": "3000001", "title": "Changed"})
            tx.rollback()
        assert queries.get_item_by_barcode(conn, "3000001").title == "Dune"  # type: ignore[union-attr]


def test_driver_errors_become_sqlalchemy_errors(engine: Engine) -> None:
    add_patron(engine, "2000003")
    duplicate = Prepared(
        insert(patrons).values(barcode=bindparam("barcode"), pin_hash=None, pin_locked_until=None)
    )
    with engine.connect() as conn, conn.begin(), pytest.raises(IntegrityError):
        duplicate.run(conn, {"barcode": "2000003"})


def test_mistakes_are_refused_not_sent_as_null(engine: Engine) -> None:
    by_barcode = Prepared(select(patrons).where(patrons.c.barcode == bindparam("key")))
    with engine.connect() as conn:
        with pytest.raises(ValueError, match="key"):
            by_barcode.first(conn, {})
        expanding = Prepared(select(holds).where(holds.c.status.in_(["ready", "waiting"])))
        with pytest.raises(ValueError, match="IN list"):
            expanding.all(conn)
