"""Fees: lateness fines at checkin, rental fees at checkout, and paying them (37)."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from sip2d.storage.models import fees, payments
from tests.circulation.conftest import NOW, Desk, days
from tests.storage.factories import add_item, add_patron


def test_a_late_return_is_fined_per_started_day_and_listed(desk: Desk) -> None:
    desk.policy(loan_days=7, daily_fine_cents=25)
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1", title="Dune")
    out = desk.checkout("P1", "I1")
    assert out.ok and out.due_at == NOW + days(7)
    back = desk.checkin("I1", NOW + days(9.5))  # 2.5 days late: 3 started days
    assert back.ok and back.message == "Returned late: a fine of 0.75 was added."
    assert back.patron is not None and back.patron.barcode == "P1"
    assert desk.patron("P1").fine_balance_cents == 75
    assert desk.lists("P1").fine_items == ["I1"]


def test_an_on_time_return_or_a_policy_without_fines_charges_nothing(desk: Desk) -> None:
    desk.policy(loan_days=7, daily_fine_cents=0)
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1")
    desk.checkout("P1", "I1")
    assert desk.checkin("I1", NOW + days(30)).message == ""
    assert desk.patron("P1").fine_balance_cents == 0


def test_a_rental_fee_is_asked_for_then_charged_once_agreed(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "DVD", checkout_fee_cents=150)
    asked = desk.checkout("P1", "DVD")
    assert not asked.ok and asked.fee is not None and asked.fee.amount_cents == 150
    assert asked.message == "This item has a fee of 1.50. Please confirm."
    assert desk.patron("P1").fine_balance_cents == 0
    agreed = desk.checkout("P1", "DVD", fee_acknowledged=True, currency="EUR")
    assert agreed.ok and agreed.fee is not None
    assert (agreed.fee.fee_type, agreed.fee.currency) == ("06", "EUR")
    assert agreed.fee.transaction_id.startswith("F")
    assert desk.patron("P1").fine_balance_cents == 150
    assert desk.lists("P1").fine_items == ["DVD"]


def test_a_patron_owing_more_than_the_threshold_cannot_borrow(desk: Desk) -> None:
    desk.policy(fine_threshold_cents=500)
    add_patron(desk.engine, "P1", fine_balance_cents=501)
    add_item(desk.engine, "I1")
    refused = desk.checkout("P1", "I1")
    assert not refused.ok
    assert refused.message == "Please pay your fines (5.01) before borrowing."


def _two_fees(desk: Desk) -> None:
    desk.policy(loan_days=1, daily_fine_cents=100)
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1")
    add_item(desk.engine, "I2")
    for barcode, late in (("I1", 2), ("I2", 3)):  # 2.00 then 3.00
        desk.checkout("P1", barcode)
        desk.checkin(barcode, NOW + days(1 + late))


def test_a_payment_settles_the_oldest_fees_first(desk: Desk) -> None:
    _two_fees(desk)
    paid = desk.pay("P1", 250, transaction_id="T1")
    assert paid.accepted and paid.transaction_id == "T1"
    assert desk.patron("P1").fine_balance_cents == 250
    with desk.engine.connect() as conn:
        owed = conn.execute(select(fees.c.paid_cents).order_by(fees.c.id)).scalars().all()
    assert owed == [200, 50]
    assert desk.lists("P1").fine_items == ["I2"]  # the first fee is paid off


def test_a_repeated_transaction_id_is_accepted_once(desk: Desk) -> None:
    _two_fees(desk)
    assert desk.pay("P1", 100, transaction_id="T1").accepted
    again = desk.pay("P1", 100, transaction_id="T1")
    assert again.accepted and again.message == "Payment already recorded."
    assert desk.patron("P1").fine_balance_cents == 400
    with desk.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments)).scalar_one() == 1


def test_a_payment_names_one_fee(desk: Desk) -> None:
    _two_fees(desk)
    with desk.engine.connect() as conn:
        second = conn.execute(select(fees.c.id).order_by(fees.c.id.desc())).scalars().first()
    paid = desk.pay("P1", 300, fee_id=f"F{second}")
    assert paid.accepted and paid.transaction_id.startswith("P")
    with desk.engine.connect() as conn:
        owed = conn.execute(select(fees.c.paid_cents).order_by(fees.c.id)).scalars().all()
        row = conn.execute(select(payments.c.fee_id)).one()
    assert owed == [0, 300] and row.fee_id == second
    too_much = desk.pay("P1", 300, fee_id=f"F{second}")
    assert not too_much.accepted and too_much.message == "Nothing to pay."


def test_payments_that_cannot_be_applied_are_refused_with_reasons(desk: Desk) -> None:
    _two_fees(desk)
    add_patron(desk.engine, "P2")
    refusals = [
        desk.pay("P1", 0).message,
        desk.pay("P1", 501).message,
        desk.pay("P1", 100, fee_id="Fx").message,
        desk.pay("P1", 100, fee_id="F999999").message,
        desk.pay("P2", 100).message,
        desk.pay("nobody", 100).message,
    ]
    assert refusals == [
        "Invalid amount.",
        "The amount exceeds what is owed (5.00).",
        "Unknown fee.",
        "Nothing to pay.",
        "Nothing to pay.",
        "Unknown patron.",
    ]
    assert desk.patron("P1").fine_balance_cents == 500
    assert [ok for kind, ok, _ in desk.journal() if kind == "fee_paid"] == [False] * 6


def test_a_fee_for_no_item_is_listed_by_its_number_and_description(desk: Desk) -> None:
    patron_id = add_patron(desk.engine, "P1")
    with desk.engine.begin() as conn:
        fee_id = conn.execute(
            insert(fees)
            .values(patron_id=patron_id, amount_cents=500, description="Lost card", created_at=NOW)
            .returning(fees.c.id)
        ).scalar_one()
    assert desk.lists("P1").fine_items == [f"F{fee_id} Lost card"]
