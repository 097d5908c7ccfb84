"""Reads that do not grow with the patron's account: no statement per loan, hold or fee.

Statements are counted on an engine routed through plain ``conn.execute`` (the debugging
setting of sip2d.storage.prepared), where SQLAlchemy's events see every one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.sql import Select

from sip2d.circulation import rules
from sip2d.circulation.records import patron_lists
from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.prepared import route_plain
from tests.circulation.conftest import KIOSK, NOW, Desk, days
from tests.storage.factories import add_item, add_patron


@pytest.fixture
def counted(migrated_url: str) -> Iterator[tuple[Engine, list[str]]]:
    engine = make_engine(DatabaseConfig(pool_size=2), url=migrated_url)
    route_plain(engine)
    selects: list[str] = []

    def count(_conn: object, clause: object, *_: object) -> None:
        if isinstance(clause, Select):
            selects.append(str(clause))

    event.listen(engine, "before_execute", count)
    yield engine, selects
    engine.dispose()


def _account(desk: Desk, patron: str, n: int) -> None:
    """``n`` loans (each with someone's hold), ``n`` holds and ``n`` fees for ``patron``."""
    add_patron(desk.engine, patron)
    add_patron(desk.engine, f"{patron}-other")
    desk.policy(loan_days=1, daily_fine_cents=10)
    for i in range(n):
        lent, held, fined = (f"{patron}-{kind}{i}" for kind in ("L", "H", "F"))
        for barcode in (lent, held, fined):
            add_item(desk.engine, barcode, title=f"Title {barcode}")
        desk.checkout(patron, fined)
        desk.checkin(fined, NOW + days(3))
        desk.checkout(patron, lent)
        desk.hold("+", f"{patron}-other", item_barcode=lent)
        desk.hold("+", patron, item_barcode=held)


def test_patron_lists_reads_the_same_whatever_the_account_holds(
    desk: Desk, counted: tuple[Engine, list[str]]
) -> None:
    engine, selects = counted
    _account(desk, "SMALL", 1)
    _account(desk, "LARGE", 4)
    seen = []
    for patron in ("SMALL", "LARGE"):
        selects.clear()
        with engine.connect() as conn:
            lists = patron_lists(conn, desk.patron(patron).id, NOW)
        seen.append(len(selects))
        assert len(lists.fine_items) == len(lists.charged_items)
    assert seen[0] == seen[1] == 3


def test_renew_all_reads_the_same_whatever_the_patron_has_out(
    desk: Desk, counted: tuple[Engine, list[str]]
) -> None:
    engine, selects = counted
    _account(desk, "SMALL", 1)
    _account(desk, "LARGE", 4)
    seen = []
    for patron in ("SMALL", "LARGE"):
        selects.clear()
        with engine.begin() as conn:
            result = rules.renew_all(conn, KIOSK, patron, NOW)
        assert result.unrenewed  # every loan has another patron's hold on it
        seen.append(len(selects))
    assert seen[0] == seen[1]
