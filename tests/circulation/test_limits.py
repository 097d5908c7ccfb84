"""Loan limits, renewal limits, and renewing one item or all of them (29, 65)."""

from __future__ import annotations

from datetime import datetime

from sip2d.storage.queries import open_loan_of_item
from tests.circulation.conftest import NOW, Desk, days
from tests.storage.factories import add_item, add_patron


def test_the_policy_loan_limit_refuses_one_more(desk: Desk) -> None:
    desk.policy(max_loans=2)
    add_patron(desk.engine, "P1")
    for barcode in ("I1", "I2", "I3"):
        add_item(desk.engine, barcode)
    assert desk.checkout("P1", "I1").ok and desk.checkout("P1", "I2").ok
    third = desk.checkout("P1", "I3")
    assert not third.ok and third.message == "You have reached your limit of 2 items."
    desk.checkin("I1")
    assert desk.checkout("P1", "I3").ok


def test_a_patrons_own_limit_overrides_the_policy(desk: Desk) -> None:
    desk.policy(max_loans=5)
    add_patron(desk.engine, "P1", loan_limit=1)
    add_item(desk.engine, "I1")
    add_item(desk.engine, "I2")
    assert desk.checkout("P1", "I1").ok
    assert desk.checkout("P1", "I2").message == "You have reached your limit of 1 items."


def test_the_most_specific_policy_sets_the_loan_period(desk: Desk) -> None:
    desk.policy(loan_days=21)
    desk.policy(media_type="002", loan_days=7)
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "BOOK")
    add_item(desk.engine, "DVD", media_type="002")
    assert desk.checkout("P1", "BOOK").due_at == NOW + days(21)
    assert desk.checkout("P1", "DVD").due_at == NOW + days(7)


def test_renewals_stop_at_the_limit_and_extend_from_the_later_date(desk: Desk) -> None:
    desk.policy(loan_days=10, renewal_limit=2)
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1")
    desk.checkout("P1", "I1")
    early = desk.renew("P1", "I1", NOW + days(1))  # before the due date: from the due date
    assert early.ok and early.renewal and early.due_at == NOW + days(20)
    late = desk.renew("P1", "I1", NOW + days(25))  # after it: from now
    assert late.ok and late.due_at == NOW + days(35)
    third = desk.renew("P1", "I1", NOW + days(26))
    assert not third.ok and third.message == "This item has reached its renewal limit (2)."
    assert third.due_at == NOW + days(35)


def test_checking_out_what_you_already_have_renews_it(desk: Desk) -> None:
    desk.policy(loan_days=10)
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1")
    desk.checkout("P1", "I1")
    again = desk.checkout("P1", "I1", NOW + days(2))
    assert again.ok and again.renewal and again.due_at == NOW + days(20)
    refused = desk.checkout("P1", "I1", renewal_allowed=False)
    assert not refused.ok and refused.message == "This item is already checked out to you."
    assert [kind for kind, _, _ in desk.journal()] == ["checkout", "renew", "checkout"]


def test_renewing_someone_elses_loan_needs_third_party_permission(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_patron(desk.engine, "P2")
    add_item(desk.engine, "I1")
    add_item(desk.engine, "I2")
    desk.checkout("P1", "I1")
    assert desk.renew("P2", "I1").message == "This item is checked out to another patron."
    assert desk.renew("P2", "I1", third_party_allowed=True).ok
    assert desk.renew("P2", "I2").message == "This item is not checked out."
    assert desk.renew("P2", "nothing").message == "This item is not in our catalogue."
    assert desk.renew("nobody", "I1").message == "Unknown patron. Please see library staff."


def test_renew_all_decides_each_item_as_renew_would(desk: Desk) -> None:
    desk.policy(loan_days=10, renewal_limit=1)
    desk.policy(media_type="002", loan_days=3, renewal_limit=5)
    add_patron(desk.engine, "P1")
    add_patron(desk.engine, "P2")
    for barcode, media, title in [
        ("FREE", "001", "Free book"),
        ("DVD", "002", "A film"),
        ("HELD", "001", "Held copy"),
        ("WANTED", "001", "Wanted title"),
        ("MAXED", "001", "Renewed before"),
    ]:
        add_item(desk.engine, barcode, media_type=media, title=title)
        assert desk.checkout("P1", barcode).ok
    assert desk.renew("P1", "MAXED").ok
    assert desk.hold("+", "P2", item_barcode="HELD").ok
    assert desk.hold("+", "P2", title="Wanted title").ok
    done = desk.renew_all("P1", NOW + days(1))
    assert done.ok and done.message == "Renewed 2 of 5 items."
    assert sorted(done.renewed) == ["DVD", "FREE"]
    assert sorted(done.unrenewed) == ["HELD", "MAXED", "WANTED"]
    due = {loan: _due(desk, loan) for loan in ("FREE", "DVD")}
    assert due == {"FREE": NOW + days(20), "DVD": NOW + days(6)}
    # One renewal each: a second pass finds FREE at its limit, the DVD still renewable.
    again = desk.renew_all("P1", NOW + days(2))
    assert again.renewed == ["DVD"]


def test_renew_all_with_nothing_out_or_for_nobody(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    assert desk.renew_all("P1").message == "You have no items to renew."
    nobody = desk.renew_all("nobody")
    assert not nobody.ok and nobody.message == "Unknown patron. Please see library staff."


def _due(desk: Desk, barcode: str) -> datetime:
    item = desk.item(barcode)
    with desk.engine.connect() as conn:
        loan = open_loan_of_item(conn, item.id)
    assert loan is not None
    return loan.due_at
