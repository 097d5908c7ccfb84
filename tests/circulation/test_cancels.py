"""09 and 11 with BI=Y: a kiosk undoes a checkout or a checkin it could not finish."""

from __future__ import annotations

from sip2d.circulation import rules
from tests.circulation.conftest import NOW, Desk, days
from tests.storage.factories import add_item, add_patron


def cancel_checkout(desk: Desk, item: str) -> rules.CircResult:
    return desk.write(lambda c: rules.cancel_checkout(c, desk.terminal, item, NOW))


def cancel_checkin(desk: Desk, patron: str, item: str) -> rules.CircResult:
    return desk.write(lambda c: rules.cancel_checkin(c, desk.terminal, patron, item, NOW))


def test_a_cancelled_checkout_leaves_no_loan_and_the_item_available(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1")
    assert desk.checkout("P1", "I1").ok
    assert desk.item("I1").circulation_status == rules.CHARGED
    undone = cancel_checkout(desk, "I1")
    assert undone.ok and undone.message == "Checkout cancelled."
    assert desk.item("I1").circulation_status == rules.AVAILABLE
    assert desk.lists("P1").charged_items == []
    assert desk.journal()[-1] == ("cancel", True, "checkout cancelled")
    again = cancel_checkout(desk, "I1")
    assert not again.ok and again.message == "This item has no checkout to cancel."
    assert cancel_checkout(desk, "nothing").message == "This item is not in our catalogue."


def test_a_cancelled_checkin_reopens_the_loan_with_its_due_date(desk: Desk) -> None:
    desk.policy(loan_days=14)
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1")
    desk.checkout("P1", "I1")
    desk.checkin("I1", NOW + days(1))
    undone = cancel_checkin(desk, "P1", "I1")
    assert undone.ok and undone.due_at == NOW + days(14)
    assert desk.item("I1").circulation_status == rules.CHARGED
    assert desk.lists("P1").charged_items == ["I1"]
    # The loan is open again, so there is no checkin left to cancel.
    assert cancel_checkin(desk, "P1", "I1").message == (
        "There is no checkin to cancel for this item."
    )


def test_only_the_last_borrower_can_have_a_checkin_cancelled(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_patron(desk.engine, "P2")
    add_item(desk.engine, "I1")
    desk.checkout("P1", "I1")
    desk.checkin("I1", NOW + days(1))
    desk.checkout("P2", "I1", NOW + days(2))
    desk.checkin("I1", NOW + days(3))
    assert not cancel_checkin(desk, "P1", "I1").ok
    assert cancel_checkin(desk, "P2", "I1").ok
    assert cancel_checkin(desk, "nobody", "I1").message == "Unknown patron or item."
    never = cancel_checkin(desk, "P1", "I1")
    assert not never.ok and never.patron is not None
