"""Holds (15) on copies and on titles: queues, changes, cancels, and serving them."""

from __future__ import annotations

from sqlalchemy import select

from sip2d.circulation import rules
from sip2d.storage.models import holds
from tests.circulation.conftest import NOW, Desk, days
from tests.storage.factories import add_item, add_patron


def statuses(desk: Desk) -> list[tuple[str, int | None]]:
    with desk.engine.connect() as conn:
        rows = conn.execute(select(holds.c.status, holds.c.item_id).order_by(holds.c.id))
        return [(row.status, row.item_id) for row in rows]


def test_title_holds_queue_in_order_and_the_first_is_served_at_checkin(desk: Desk) -> None:
    for barcode in ("P1", "P2", "P3"):
        add_patron(desk.engine, barcode)
    add_item(desk.engine, "I1", title="Dune", permanent_location="MAIN")
    desk.checkout("P3", "I1")
    first = desk.hold("+", "P1", title="Dune", pickup_location="MAIN")
    second = desk.hold("+", "P2", NOW + days(1), title="Dune")
    assert (first.ok, first.queue_position, first.available) == (True, 1, False)
    assert (second.queue_position, second.pickup_location) == (2, "MAIN")  # the kiosk's
    back = desk.checkin("I1", NOW + days(2))
    assert back.alert and (back.alert_type, back.sort_bin) == ("01", "HOLDS")
    assert back.hold_patron is not None and back.hold_patron.barcode == "P1"
    assert desk.item("I1").circulation_status == rules.ON_HOLD_SHELF
    item_id = desk.item("I1").id
    assert statuses(desk) == [("ready", item_id), ("waiting", None)]
    assert desk.lists("P1").hold_items == ["I1"]  # ready: named by the copy
    assert desk.lists("P2").unavailable_holds == ["Dune"]  # waiting: named by the title
    # P2 moves up; a checkout by someone else is refused while P1's hold is on the copy.
    assert desk.hold("*", "P2", title="Dune").queue_position == 1
    refused = desk.checkout("P3", "I1", NOW + days(3))
    assert refused.message == "This item is on hold for another patron."
    # P1 collects it: the hold is fulfilled.
    assert desk.checkout("P1", "I1", NOW + days(3)).ok
    assert statuses(desk)[0] == ("fulfilled", item_id)


def test_a_hold_for_another_branch_sends_the_copy_in_transit(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_patron(desk.engine, "P2")
    add_item(desk.engine, "I1", title="Dune")
    desk.checkout("P2", "I1")
    desk.hold("+", "P1", item_barcode="I1", pickup_location="EAST")
    back = desk.checkin("I1")
    assert (back.alert_type, back.destination, back.sort_bin) == ("02", "EAST", "TRANSIT")
    assert back.message == "Hold for another branch: send to EAST."
    assert desk.item("I1").circulation_status == rules.IN_TRANSIT


def test_changing_a_hold_moves_pickup_and_expiry_and_keeps_the_rest(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_item(desk.engine, "I1")
    placed = desk.hold("+", "P1", item_barcode="I1", pickup_location="MAIN")
    assert placed.ok and placed.available and placed.expires_at is None
    moved = desk.hold("*", "P1", item_barcode="I1", pickup_location="EAST")
    assert (moved.ok, moved.message, moved.pickup_location) == (
        True,
        "Your hold was changed.",
        "EAST",
    )
    until = NOW + days(30)
    extended = desk.hold("*", "P1", item_barcode="I1", expires_at=until)
    assert (extended.pickup_location, extended.expires_at) == ("EAST", until)
    with desk.engine.connect() as conn:
        row = conn.execute(select(holds.c.pickup_location, holds.c.expires_at)).one()
    assert (row.pickup_location, row.expires_at) == ("EAST", until)
    unchanged = desk.hold("*", "P1", item_barcode="I1")
    assert unchanged.ok and unchanged.pickup_location == "EAST"


def test_placing_twice_cancelling_and_what_cannot_be_held(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_patron(desk.engine, "BLOCKED", blocked=True)
    add_item(desk.engine, "I1")
    assert desk.hold("+", "P1", item_barcode="I1").message == "Your hold was placed."
    twice = desk.hold("+", "P1", item_barcode="I1")
    assert (twice.ok, twice.message, twice.queue_position) == (
        True,
        "You already have a hold on this item.",
        1,
    )
    assert desk.hold("-", "P1", item_barcode="I1").message == "Your hold was cancelled."
    assert statuses(desk) == [("cancelled", desk.item("I1").id)]
    messages = [
        desk.hold("-", "P1", item_barcode="I1").message,
        desk.hold("*", "P1", item_barcode="I1").message,
        desk.hold("?", "P1", item_barcode="I1").message,
        desk.hold("+", "BLOCKED", item_barcode="I1").message,
        desk.hold("+", "P1", item_barcode="nothing").message,
        desk.hold("+", "P1").message,
        desk.hold("+", "nobody", item_barcode="I1").message,
    ]
    assert messages == [
        "You have no hold on this item.",
        "You have no hold on this item.",
        "Unknown hold mode.",
        "Your card cannot place holds. Please see library staff.",
        "This item is not in our catalogue.",
        "Say which item or title to hold.",
        "Unknown patron.",
    ]


def test_a_waiting_title_hold_stops_renewals_of_that_title_only(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_patron(desk.engine, "P2")
    add_item(desk.engine, "I1", title="Dune")
    add_item(desk.engine, "I2", title="Emma")
    desk.checkout("P1", "I1")
    desk.checkout("P1", "I2")
    desk.hold("+", "P2", title="Dune")
    refused = desk.renew("P1", "I1")
    assert refused.message == "Another patron is waiting for this title; it cannot be renewed."
    assert desk.renew("P1", "I2").ok
    # The holder's own title hold does not stop them renewing.
    desk.hold("+", "P1", title="Emma")
    assert desk.renew("P1", "I2").ok


def test_a_copy_hold_stops_its_renewal(desk: Desk) -> None:
    add_patron(desk.engine, "P1")
    add_patron(desk.engine, "P2")
    add_item(desk.engine, "I1")
    desk.checkout("P1", "I1")
    desk.hold("+", "P2", item_barcode="I1")
    assert desk.renew("P1", "I1").message == (
        "This item is on hold for another patron and cannot be renewed."
    )
