"""01 Block Patron and 25 Patron Enable: a kiosk lifts only a block a kiosk set."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, select

from sip2d.circulation.rules import MSG_BLOCK_NOT_LIFTED, Terminal, set_patron_block
from sip2d.storage.models import (
    BLOCKED_BY_KIOSK,
    BLOCKED_BY_POLICY,
    BLOCKED_BY_STAFF,
    circulation_journal,
)
from sip2d.storage.records import PatronRecord
from tests.storage.factories import add_patron

NOW = datetime(2025, 3, 4, 10, 0, 0)
KIOSK = Terminal(account_id=None, login="kiosk1", location="MAIN")


def kiosk(engine: Engine, barcode: str, *, blocked: bool, reason: str = "") -> PatronRecord | None:
    with engine.execution_options(sqlite_write=True).begin() as conn:
        return set_patron_block(conn, KIOSK, barcode, NOW, blocked=blocked, reason=reason)


def journal(engine: Engine) -> list[tuple[str, bool, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                circulation_journal.c.kind,
                circulation_journal.c.ok,
                circulation_journal.c.screen_message,
            ).order_by(circulation_journal.c.id)
        )
        return [tuple(row) for row in rows]


def block_of(record: PatronRecord | None) -> tuple[bool, str, str]:
    assert record is not None
    return record.blocked, record.block_reason, record.block_source


def test_kiosk_block_then_kiosk_enable_lifts_it(engine: Engine) -> None:
    add_patron(engine, "2001")
    blocked = kiosk(engine, "2001", blocked=True, reason="card left in kiosk")
    assert block_of(blocked) == (True, "card left in kiosk", BLOCKED_BY_KIOSK)
    enabled = kiosk(engine, "2001", blocked=False)
    assert block_of(enabled) == (False, "", "")
    assert journal(engine) == [("block", True, "card left in kiosk"), ("enable", True, "")]


@pytest.mark.parametrize("source", [BLOCKED_BY_STAFF, BLOCKED_BY_POLICY, ""])
def test_kiosk_enable_leaves_any_other_block(engine: Engine, source: str) -> None:
    # "" on a blocked patron: a block of unknown origin, e.g. written by another tool.
    add_patron(engine, "2001", blocked=True, block_reason="lost card", block_source=source)
    record = kiosk(engine, "2001", blocked=False)
    assert block_of(record) == (True, "lost card", source)
    assert journal(engine) == [("enable", False, MSG_BLOCK_NOT_LIFTED)]


def test_kiosk_block_keeps_a_staff_block_as_it_is(engine: Engine) -> None:
    add_patron(
        engine, "2001", blocked=True, block_reason="lost card", block_source=BLOCKED_BY_STAFF
    )
    record = kiosk(engine, "2001", blocked=True, reason="kiosk says so")
    assert block_of(record) == (True, "lost card", BLOCKED_BY_STAFF)
    assert journal(engine) == [("block", True, "kiosk says so")]
    # Still staff's: the kiosk's second thoughts do not lift it.
    assert block_of(kiosk(engine, "2001", blocked=False))[0] is True


def test_enable_of_a_patron_who_is_not_blocked_is_ok(engine: Engine) -> None:
    add_patron(engine, "2001")
    assert block_of(kiosk(engine, "2001", blocked=False)) == (False, "", "")
    assert journal(engine) == [("enable", True, "")]


def test_unknown_patron(engine: Engine) -> None:
    assert kiosk(engine, "nobody", blocked=True) is None
    assert kiosk(engine, "nobody", blocked=False) is None
    assert journal(engine) == [
        ("block", False, "Unknown patron."),
        ("enable", False, "Unknown patron."),
    ]
