"""A wrong PIN is refused on every message that carries one, and changes nothing.

Reference sections 7.6, 7.7, 7.11, 7.13, 7.14, 7.15 and 7.16: 11, 29, 65, 15, 25, 37 and 63 carry
the patron's PIN (AD). A server that checks it on 23 but not on the others lets anyone who
holds a card borrow, renew, place holds, pay or lift a block in its owner's name; sip2d itself
once placed a hold and lifted a block with wrong PINs and the suite passed it.

Each check sends one wrong PIN (the PIN of the same shape that is certainly not the patron's),
judges the answer, looks at the data the request would have changed, undoes what a broken
server did (and says so in its notes), and sends the right PIN afterwards so the patron's count
of PIN failures goes back to zero. All but PN-03 change data on a server that accepts the wrong
PIN, so they run only with ``--allow-changes``.
"""

from __future__ import annotations

from conformance import requests
from conformance.checks.changes import on_loan, restore
from conformance.checks.context import CheckSession
from conformance.checks.refusals import wrong_pin
from conformance.model import MUST, CheckFailed, CheckSkipped, check
from conformance.wire import Wire
from sip2d.protocol import (
    CheckoutResponse,
    FeePaidResponse,
    HoldResponse,
    ItemInformationResponse,
    PatronEnableResponse,
    PatronInformationResponse,
    PatronStatusResponse,
    RenewAllResponse,
    RenewResponse,
    Summary,
)

GROUP = "Wrong PINs on every message with AD"
LISTS = (
    "hold_items",
    "overdue_items",
    "charged_items",
    "fine_items",
    "recall_items",
    "unavailable_hold_items",
)


async def _right_pin(s: CheckSession, wire: Wire, barcode: str, pin: str) -> PatronStatusResponse:
    """The patron's 24 with the right PIN, which also resets the patron's failure count."""
    reply = await s.ask(wire, requests.patron_status(s.profile, barcode, pin), PatronStatusResponse)
    assert isinstance(reply, PatronStatusResponse)
    return reply


async def _reset(s: CheckSession, wire: Wire, barcode: str, pin: str) -> None:
    if wire.closed:
        wire = await s.connect()
    await _right_pin(s, wire, barcode, pin)
    s.note("restored: sent the right PIN afterwards to reset the patron's failure count")


async def _item(s: CheckSession, wire: Wire, item: str) -> ItemInformationResponse:
    reply = await s.ask(wire, requests.item_information(s.profile, item), ItemInformationResponse)
    assert isinstance(reply, ItemInformationResponse)
    return reply


@check("PN-03", "A wrong PIN in 63 is not confirmed and lists no items", "§7.6", MUST, GROUP)
async def information_wrong_pin(s: CheckSession) -> None:
    s.require_supported("63")
    patron, pin = s.require_pin()
    wire = await s.connect()
    charged = Summary(charged_items=True)
    bad = requests.patron_information(s.profile, patron.barcode, wrong_pin(pin), summary=charged)
    reply = await s.ask(wire, bad, PatronInformationResponse)
    assert isinstance(reply, PatronInformationResponse)
    good = requests.patron_information(s.profile, patron.barcode, pin, summary=charged)
    right = await s.ask(wire, good, PatronInformationResponse)
    assert isinstance(right, PatronInformationResponse)
    s.note("restored: sent the right PIN afterwards to reset the patron's failure count")
    if not right.charged_items:
        s.note("the patron has no charged items, so an empty list proves little")
    if reply.valid_patron_password is True:
        raise CheckFailed("a wrong PIN was confirmed (CQY)")
    listed = [f"{name}: {list(items)}" for name in LISTS if (items := getattr(reply, name))]
    if listed:
        raise CheckFailed("with a wrong PIN the 64 lists the patron's items: " + "; ".join(listed))


@check("PN-04", "A checkout with a wrong PIN is refused and nothing is checked out", "§7.7",
       MUST, GROUP, needs=("changes",))  # fmt: skip
async def checkout_wrong_pin(s: CheckSession) -> None:
    s.require_supported("11")
    patron, pin = s.require_pin()
    item = s.require_item()
    wire = await s.connect()
    before = (await _item(s, wire, item)).circulation_status
    bad = requests.checkout(s.profile, patron.barcode, item, wrong_pin(pin))
    reply = await s.ask(wire, bad, CheckoutResponse)
    assert isinstance(reply, CheckoutResponse)
    after = (await _item(s, wire, item)).circulation_status
    await _reset(s, wire, patron.barcode, pin)
    if reply.ok or after != before:
        await restore(s, wire, item)
        what = "reported as done (ok=1)" if reply.ok else f"done (status {before} -> {after})"
        raise CheckFailed(f"the checkout with a wrong PIN was {what}")


@check("PN-05", "A renew with a wrong PIN is refused and the due date stays", "§7.15", MUST,
       GROUP, needs=("changes",))  # fmt: skip
async def renew_wrong_pin(s: CheckSession) -> None:
    s.require_supported("29")
    s.require_supported("17")
    patron, pin = s.require_pin()
    item = s.require_item()
    async with on_loan(s) as loan:
        wire = loan.wire
        before = (await _item(s, wire, item)).due_date
        bad = requests.renew(s.profile, patron.barcode, item, wrong_pin(pin))
        reply = await s.ask(wire, bad, RenewResponse)
        assert isinstance(reply, RenewResponse)
        after = (await _item(s, wire, item)).due_date
        await _reset(s, wire, patron.barcode, pin)
    if reply.ok:
        raise CheckFailed("the renewal with a wrong PIN was reported as done (ok=1)")
    if after != before:
        raise CheckFailed(f"the due date changed from {before!r} to {after!r}")


@check("PN-06", "A renew all with a wrong PIN is refused and renews nothing", "§7.16", MUST,
       GROUP, needs=("changes",))  # fmt: skip
async def renew_all_wrong_pin(s: CheckSession) -> None:
    s.require_supported("65")
    patron, pin = s.require_pin()
    async with on_loan(s) as loan:
        wire = loan.wire
        bad = requests.renew_all(s.profile, patron.barcode, wrong_pin(pin))
        reply = await s.ask(wire, bad, RenewAllResponse)
        assert isinstance(reply, RenewAllResponse)
        await _reset(s, wire, patron.barcode, pin)
    renewed = reply.renewed_items or ()
    if reply.ok or renewed or (reply.renewed_count or 0) > 0:
        raise CheckFailed(
            f"the renew all with a wrong PIN was not refused: ok={int(bool(reply.ok))}, "
            f"{reply.renewed_count or 0} renewed {list(renewed)}"
        )


async def _holds(s: CheckSession, wire: Wire, barcode: str, pin: str) -> int | None:
    """The patron's hold count (64), asked with the right PIN (which also resets failures)."""
    request = requests.patron_information(s.profile, barcode, pin)
    reply = await s.ask(wire, request, PatronInformationResponse)
    assert isinstance(reply, PatronInformationResponse)
    return reply.hold_items_count


@check("PN-07", "A hold with a wrong PIN is refused and no hold is placed", "§7.14", MUST,
       GROUP, needs=("changes",))  # fmt: skip
async def hold_wrong_pin(s: CheckSession) -> None:
    s.require_supported("15")
    patron, pin = s.require_pin()
    item = s.require_item()
    wire = await s.connect()
    counted = s.supports("63")
    before = await _holds(s, wire, patron.barcode, pin) if counted else None
    bad = requests.hold(s.profile, patron.barcode, item, "+", wrong_pin(pin))
    reply = await s.ask(wire, bad, HoldResponse)
    assert isinstance(reply, HoldResponse)
    if counted:
        after = await _holds(s, wire, patron.barcode, pin)
        s.note("restored: sent the right PIN afterwards to reset the patron's failure count")
    else:
        after = None
        await _reset(s, wire, patron.barcode, pin)
    placed = before is not None and after is not None and after > before
    if reply.ok or placed:
        cancel = requests.hold(s.profile, patron.barcode, item, "-", pin)
        await s.ask(wire, cancel, HoldResponse)
        s.note(f"restored: cancelled the hold on {item} with the right PIN")
        what = "reported as placed (ok=1)" if reply.ok else f"placed (holds {before} -> {after})"
        raise CheckFailed(f"the hold with a wrong PIN was {what}")
    if before is None or after is None:
        s.note("the 64 gives no hold count, so only the 16's ok flag was judged")


@check("PN-08", "A patron enable with a wrong PIN is refused and the block stays", "§7.11",
       MUST, GROUP, needs=("changes",))  # fmt: skip
async def enable_wrong_pin(s: CheckSession) -> None:
    s.require_supported("01")
    s.require_supported("25")
    s.require_supported("23")
    # The second patron, so that a block the server fails to lift never spoils the checks
    # that use the first one.
    second, pin = s.require_second()
    if pin is None:
        raise CheckSkipped("the profile gives no PIN for [second_patron]")
    wire = await s.connect()
    clear = (await _right_pin(s, wire, second.barcode, pin)).patron_status
    block = requests.block_patron(s.profile, second.barcode, "conformance test: wrong-PIN check")
    await s.ask(wire, block, PatronStatusResponse)
    try:
        blocked = (await _right_pin(s, wire, second.barcode, pin)).patron_status
        if blocked == clear:
            raise CheckSkipped("the block does not show in the 24's patron status: cannot judge")
        bad = requests.patron_enable(s.profile, second.barcode, wrong_pin(pin))
        reply = await s.ask(wire, bad, PatronEnableResponse)
        assert isinstance(reply, PatronEnableResponse)
        after = (await _right_pin(s, wire, second.barcode, pin)).patron_status
    finally:
        enable = requests.patron_enable(s.profile, second.barcode, pin)
        await s.ask(wire, enable, PatronEnableResponse)
        restored = (await _right_pin(s, wire, second.barcode, pin)).patron_status == clear
        s.note(
            f"restored: enabled patron {second.barcode} again with the right PIN"
            if restored
            else f"NOT restored: patron {second.barcode} is still blocked; unblock by hand"
        )
    if reply.valid_patron_password is True:
        raise CheckFailed("the 26 confirmed the wrong PIN (CQY)")
    if after != blocked:
        raise CheckFailed(
            f"the block was lifted with a wrong PIN (patron status {str(blocked)!r} -> "
            f"{str(after)!r})"
        )


@check("PN-09", "A fee payment with a wrong PIN is refused (38 payment accepted N)", "§7.13",
       MUST, GROUP, needs=("changes",))  # fmt: skip
async def fee_wrong_pin(s: CheckSession) -> None:
    s.require_supported("37")
    patron, pin = s.require_pin()
    wire = await s.connect()
    bad = requests.fee_paid(s.profile, patron.barcode, wrong_pin(pin))
    reply = await s.ask(wire, bad, FeePaidResponse)
    assert isinstance(reply, FeePaidResponse)
    await _reset(s, wire, patron.barcode, pin)
    if reply.payment_accepted:
        s.note("NOT restored: a payment of 0.01 may now be recorded for the patron")
        raise CheckFailed("a payment with a wrong PIN was accepted (payment accepted Y)")


CHECKS = (
    information_wrong_pin,
    checkout_wrong_pin,
    renew_wrong_pin,
    renew_all_wrong_pin,
    hold_wrong_pin,
    enable_wrong_pin,
    fee_wrong_pin,
)
