"""Circulation that changes data: checkout, renew, checkin, and what the server reports meanwhile.

Run only with ``--allow-changes`` (or ``[changes] allow = true``): these checks check the
profile's item out to the profile's patron. Every one of them checks the item back in before it
ends, whatever happened, and says so in its notes; a renewal made on the way is closed with the
loan. Only a loan the check made itself is undone: an item that 18 reports on loan or on the hold
shelf, or a checkout answered as a renewal, is an unmet precondition, reported as skipped.
Reference sections 7.6-7.9 and 7.15.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.model import MUST, SHOULD, CheckFailed, CheckSkipped, check
from conformance.wire import Wire
from sip2d.protocol import (
    CheckinResponse,
    CheckoutResponse,
    ItemInformationResponse,
    PatronInformationResponse,
    RenewResponse,
    Summary,
)

GROUP = "Circulation (changes data)"
CHARGED = frozenset({"04", "05"})
# Statuses under which a checkout by the profile's patron would touch someone else's loan or hold.
UNAVAILABLE = CHARGED | {"08"}


def _reason(reply: CheckoutResponse | CheckinResponse) -> str:
    return "; ".join(reply.screen_message) or "no screen message"


@dataclasses.dataclass
class Loan:
    wire: Wire
    checkout: CheckoutResponse
    returned: bool = False


@asynccontextmanager
async def on_loan(s: CheckSession) -> AsyncIterator[Loan]:
    """Check the profile's item out to the profile's patron; always check it back in after."""
    s.require_supported("11")
    s.require_supported("09")
    barcode, pin = s.patron_pin()
    item = s.require_item()
    wire = await s.connect()
    await require_available(s, wire, item)
    reply = await s.ask(wire, requests.checkout(s.profile, barcode, item, pin), CheckoutResponse)
    assert isinstance(reply, CheckoutResponse)
    # Only a loan this check made is undone: a refused checkout made none, and a checkout
    # answered as a renewal (BO renewal_ok) extended a loan the patron already had.
    loan = Loan(wire, reply, returned=not reply.ok or reply.renewal_ok)
    try:
        if reply.ok and reply.renewal_ok:
            raise CheckSkipped(
                f"precondition not met: item {item} was already on loan to the patron (the 12 "
                "says renewal); it was left on loan. Name an available item in [item]"
            )
        if not reply.ok:
            raise CheckFailed(f"the checkout of {item} was refused: {_reason(reply)}")
        yield loan
    finally:
        if not loan.returned:
            await restore(s, loan.wire, item)


async def require_available(s: CheckSession, wire: Wire, item: str) -> None:
    """Skip, with the reason, when 18 says the item is on loan or held (then it is not ours)."""
    if not s.supports("17"):
        return
    reply = await s.ask(wire, requests.item_information(s.profile, item), ItemInformationResponse)
    assert isinstance(reply, ItemInformationResponse)
    if reply.circulation_status in UNAVAILABLE:
        raise CheckSkipped(
            f"precondition not met: item {item} is not available (18 circulation status "
            f"{reply.circulation_status}); check it in or name an available item in [item]"
        )


async def restore(s: CheckSession, wire: Wire, item: str) -> None:
    """Check ``item`` back in, on a fresh connection if this one is broken; never raises."""
    problem = ""
    for attempt in range(2):
        try:
            if attempt or wire.closed:
                wire = await s.connect()
            back = await s.ask(wire, requests.checkin(s.profile, item), CheckinResponse)
        except CheckFailed as exc:
            problem = str(exc)
            continue
        assert isinstance(back, CheckinResponse)
        s.note(f"restored: checked item {item} back in ({'ok' if back.ok else 'REFUSED'})")
        return
    s.note(f"NOT restored: could not check item {item} back in ({problem}); do it by hand")


@check("CX-01", "A checkout of an available item succeeds (12 ok=1 with a due date)", "§7.7",
       MUST, GROUP, needs=("changes",))  # fmt: skip
async def checkout_succeeds(s: CheckSession) -> None:
    async with on_loan(s) as loan:
        if not loan.checkout.due_date:
            raise CheckFailed("the successful checkout has an empty AH (due date)")


@check("CX-02", "A checkin of a charged item succeeds (10 ok=1)", "§7.8", MUST, GROUP,
       needs=("changes",))  # fmt: skip
async def checkin_succeeds(s: CheckSession) -> None:
    item = s.require_item()
    async with on_loan(s) as loan:
        back = await s.ask(loan.wire, requests.checkin(s.profile, item), CheckinResponse)
        assert isinstance(back, CheckinResponse)
        loan.returned = back.ok
        if back.ok:
            s.note(f"restored: item {item} is checked in again")
        else:
            raise CheckFailed(f"the checkin was refused: {_reason(back)}")


@check("CX-03", "A renew of a charged item is answered with 30 (the 12 layout)", "§7.15",
       MUST, GROUP, needs=("changes",))  # fmt: skip
async def renew_answered(s: CheckSession) -> None:
    s.require_supported("29")
    barcode, pin = s.patron_pin()
    item = s.require_item()
    async with on_loan(s) as loan:
        wire = loan.wire
        reply = await s.ask(wire, requests.renew(s.profile, barcode, item, pin), RenewResponse)
        assert isinstance(reply, RenewResponse)
        s.note(f"renewal {'granted' if reply.ok else 'refused'}")


@check("CX-04", "A checkout of an item on loan to another patron is refused", "§7.7", SHOULD,
       GROUP, needs=("changes",))  # fmt: skip
async def checkout_taken(s: CheckSession) -> None:
    second, pin = s.require_second()
    item = s.require_item()
    async with on_loan(s) as loan:
        wire = loan.wire
        request = requests.checkout(s.profile, second.barcode, item, pin)
        reply = await s.ask(wire, request, CheckoutResponse)
        assert isinstance(reply, CheckoutResponse)
        if reply.ok:
            raise CheckFailed("the item on loan to the first patron was checked out to the second")


@check("CX-05", "The patron's 64 charged list (AU) shows the item while it is on loan", "§7.6",
       SHOULD, GROUP, needs=("changes",))  # fmt: skip
async def charged_listed(s: CheckSession) -> None:
    s.require_supported("63")
    barcode, pin = s.patron_pin()
    item = s.require_item()
    async with on_loan(s) as loan:
        wire = loan.wire
        request = requests.patron_information(
            s.profile, barcode, pin, summary=Summary(charged_items=True)
        )
        reply = await s.ask(wire, request, PatronInformationResponse)
        assert isinstance(reply, PatronInformationResponse)
        if not any(item in entry for entry in reply.charged_items):
            raise CheckFailed(f"AU lists {list(reply.charged_items)}, without {item}")


@check("CX-06", "The 18 for an item on loan says charged (04/05) with a due date", "§7.9, §5.4",
       SHOULD, GROUP, needs=("changes",))  # fmt: skip
async def item_charged(s: CheckSession) -> None:
    s.require_supported("17")
    item = s.require_item()
    async with on_loan(s) as loan:
        wire = loan.wire
        reply = await s.ask(wire, requests.item_information(s.profile, item),
                            ItemInformationResponse)  # fmt: skip
        assert isinstance(reply, ItemInformationResponse)
        if reply.circulation_status not in CHARGED:
            raise CheckFailed(
                f"circulation status {reply.circulation_status!r} for an item on loan"
            )
        if not reply.due_date:
            raise CheckFailed("no AH (due date) for an item on loan")


CHECKS = (
    checkout_succeeds,
    checkin_succeeds,
    renew_answered,
    checkout_taken,
    charged_listed,
    item_charged,
)
