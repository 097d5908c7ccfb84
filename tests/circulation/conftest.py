"""Circulation rules run on a migrated database on each engine, with the store's fixtures.

:class:`Desk` runs one rule per transaction, as the daemon's write runner does, and reads the
results back through the store's own read helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Connection, Engine, insert, select

from sip2d.circulation import rules
from sip2d.circulation.records import PatronLists, patron_lists
from sip2d.storage.models import circulation_journal, loan_policies
from sip2d.storage.queries import get_item_by_barcode, get_patron_by_barcode
from sip2d.storage.records import ItemRecord, PatronRecord
from tests.storage.conftest import engine

__all__ = ["Desk", "desk", "engine"]

T = TypeVar("T")
NOW = datetime(2025, 3, 4, 10, 0, 0)
KIOSK = rules.Terminal(account_id=None, login="kiosk1", location="MAIN")


class Desk:
    """The rules as a kiosk at ``KIOSK`` drives them, one transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.terminal = KIOSK

    def write(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.execution_options(sqlite_write=True).begin() as conn:
            return fn(conn)

    def policy(self, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(loan_policies).values(**values))

    def checkout(self, patron: str, item: str, now: datetime = NOW, **kw: Any) -> rules.CircResult:
        return self.write(lambda c: rules.checkout(c, self.terminal, patron, item, now, **kw))

    def checkin(self, item: str, now: datetime = NOW, **kw: Any) -> rules.CircResult:
        return self.write(lambda c: rules.checkin(c, self.terminal, item, now, **kw))

    def renew(self, patron: str, item: str, now: datetime = NOW, **kw: Any) -> rules.CircResult:
        return self.write(lambda c: rules.renew(c, self.terminal, patron, item, now, **kw))

    def renew_all(self, patron: str, now: datetime = NOW) -> rules.RenewAllResult:
        return self.write(lambda c: rules.renew_all(c, self.terminal, patron, now))

    def hold(self, mode: str, patron: str, now: datetime = NOW, **kw: Any) -> rules.HoldResult:
        return self.write(lambda c: rules.hold(c, self.terminal, mode, patron, now, **kw))

    def pay(self, patron: str, cents: int, now: datetime = NOW, **kw: Any) -> rules.PaymentResult:
        return self.write(lambda c: rules.fee_paid(c, self.terminal, patron, cents, now, **kw))

    def patron(self, barcode: str) -> PatronRecord:
        with self.engine.connect() as conn:
            found = get_patron_by_barcode(conn, barcode)
        assert found is not None
        return found

    def item(self, barcode: str) -> ItemRecord:
        with self.engine.connect() as conn:
            found = get_item_by_barcode(conn, barcode)
        assert found is not None
        return found

    def lists(self, barcode: str, now: datetime = NOW) -> PatronLists:
        with self.engine.connect() as conn:
            return patron_lists(conn, self.patron(barcode).id, now)

    def journal(self) -> list[tuple[str, bool, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    circulation_journal.c.kind,
                    circulation_journal.c.ok,
                    circulation_journal.c.screen_message,
                ).order_by(circulation_journal.c.id)
            )
            return [(row.kind, row.ok, row.screen_message) for row in rows]


@pytest.fixture
def desk(engine: Engine) -> Desk:
    return Desk(engine)


def days(n: float) -> timedelta:
    return timedelta(days=n)
