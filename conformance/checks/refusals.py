"""Refusal forms and PIN answers: what a kiosk is told when the answer is "no".

Reference section 9.3 and pitfalls P10, P29. A kiosk decides what to show from a handful of
fields (BL, CQ, the ok flag, desensitize), so an unknown card reported as valid or a refused
checkout that says "desensitize" is a real failure at the machine. The exact Koha/Evergreen
shapes of the refusals are SHOULDs: kiosks are written against them.

The wrong-PIN check costs the profile's patron one PIN failure and then sends the right PIN,
which resets the failure count on servers that count consecutive failures (it says so).
"""

from __future__ import annotations

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.model import MUST, SHOULD, CheckFailed, check
from sip2d.protocol import (
    CheckinResponse,
    CheckoutResponse,
    ItemInformationResponse,
    PatronInformationResponse,
    PatronStatusResponse,
)

GROUP = "Refusals and PINs"


def wrong_pin(pin: str) -> str:
    """A PIN of the same shape that is certainly not ``pin``."""
    if pin.isdigit():
        return str((int(pin) + 1) % 10 ** len(pin)).zfill(len(pin))
    return pin + "0"


def _not_valid(reply: PatronStatusResponse | PatronInformationResponse) -> None:
    if reply.valid_patron is True:
        raise CheckFailed("an unknown barcode is reported as a valid patron (BLY)")
    if reply.valid_patron is None and not reply.patron_status.charge_privileges_denied:
        raise CheckFailed("an unknown barcode has no BL and charge privileges are not denied")


async def _unknown_patron_status(s: CheckSession) -> PatronStatusResponse:
    wire = await s.connect()
    request = requests.patron_status(s.profile, s.profile.invalid_patron)
    reply = await s.ask(wire, request, PatronStatusResponse)
    assert isinstance(reply, PatronStatusResponse)
    return reply


@check("RF-01", "An unknown patron is not reported as valid (24 BLN)", "§9.3, P29", MUST, GROUP)
async def unknown_patron(s: CheckSession) -> None:
    s.require_supported("23")
    _not_valid(await _unknown_patron_status(s))


@check("RF-02", "An unknown patron gets the usual 24 form: YYYY, empty AE, BLN", "§9.3, §5.1",
       SHOULD, GROUP)  # fmt: skip
async def unknown_patron_form(s: CheckSession) -> None:
    s.require_supported("23")
    reply = await _unknown_patron_status(s)
    status = reply.patron_status
    denied = (
        status.charge_privileges_denied,
        status.renewal_privileges_denied,
        status.recall_privileges_denied,
        status.hold_privileges_denied,
    )
    problems = []
    if not all(denied):
        problems.append(f"patron status {str(status)!r} does not start with YYYY")
    if reply.personal_name:
        problems.append("AE (personal name) is not empty")
    if reply.valid_patron is not False:
        problems.append("BL is not N")
    if problems:
        raise CheckFailed("; ".join(problems))


@check("RF-03", "An unknown patron in 63 gets a 64 with BLN and an empty AE", "§9.3", SHOULD,
       GROUP)  # fmt: skip
async def unknown_patron_information(s: CheckSession) -> None:
    s.require_supported("63")
    wire = await s.connect()
    request = requests.patron_information(s.profile, s.profile.invalid_patron)
    reply = await s.ask(wire, request, PatronInformationResponse)
    assert isinstance(reply, PatronInformationResponse)
    _not_valid(reply)
    if reply.personal_name:
        raise CheckFailed("AE (personal name) is not empty for an unknown patron")


@check("RF-04", "An unknown item gets an 18 with circulation status 01 and an empty AJ",
       "§9.3, §5.4", SHOULD, GROUP)  # fmt: skip
async def unknown_item(s: CheckSession) -> None:
    s.require_supported("17")
    wire = await s.connect()
    request = requests.item_information(s.profile, s.profile.invalid_item)
    reply = await s.ask(wire, request, ItemInformationResponse)
    assert isinstance(reply, ItemInformationResponse)
    problems = []
    if reply.circulation_status != "01":
        problems.append(f"circulation status {reply.circulation_status!r}, not 01 (other)")
    if reply.title_identifier:
        problems.append("AJ (title) is not empty")
    if problems:
        raise CheckFailed("; ".join(problems))


def _refused_checkout(reply: CheckoutResponse) -> None:
    if reply.ok:
        raise CheckFailed("the checkout was reported as done (ok=1)")
    if reply.desensitize is True:
        raise CheckFailed("a refused checkout tells the kiosk to desensitize the item (Y)")


@check("RF-05", "A checkout of an unknown item is refused (ok=0, desensitize not Y)",
       "§9.3, §7.7", MUST, GROUP)  # fmt: skip
async def checkout_unknown_item(s: CheckSession) -> None:
    s.require_supported("11")
    barcode, pin = s.patron_pin()
    wire = await s.connect()
    request = requests.checkout(s.profile, barcode, s.profile.invalid_item, pin)
    reply = await s.ask(wire, request, CheckoutResponse)
    assert isinstance(reply, CheckoutResponse)
    _refused_checkout(reply)


@check("RF-06", "A checkin of an unknown item is refused (ok=0)", "§9.3, §7.8", MUST, GROUP)
async def checkin_unknown_item(s: CheckSession) -> None:
    s.require_supported("09")
    wire = await s.connect()
    reply = await s.ask(wire, requests.checkin(s.profile, s.profile.invalid_item), CheckinResponse)
    assert isinstance(reply, CheckinResponse)
    if reply.ok:
        raise CheckFailed("the checkin of an unknown item was reported as done (ok=1)")


@check("RF-07", "A checkout for an unknown patron is refused (ok=0, desensitize not Y)",
       "§9.3, §7.7", MUST, GROUP)  # fmt: skip
async def checkout_unknown_patron(s: CheckSession) -> None:
    s.require_supported("11")
    item = s.profile.item or s.profile.invalid_item
    wire = await s.connect()
    request = requests.checkout(s.profile, s.profile.invalid_patron, item)
    reply = await s.ask(wire, request, CheckoutResponse)
    assert isinstance(reply, CheckoutResponse)
    _refused_checkout(reply)


@check("PN-01", "The right PIN is confirmed (24 BLY, CQY)", "§7.4", SHOULD, GROUP)
async def right_pin(s: CheckSession) -> None:
    s.require_supported("23")
    patron, pin = s.require_pin()
    wire = await s.connect()
    reply = await s.ask(wire, requests.patron_status(s.profile, patron.barcode, pin),
                        PatronStatusResponse)  # fmt: skip
    assert isinstance(reply, PatronStatusResponse)
    if reply.valid_patron is False:
        raise CheckFailed("the profile's patron is reported as not valid (BLN)")
    if reply.valid_patron_password is not True:
        cq = {None: "absent", False: "N"}[reply.valid_patron_password]
        raise CheckFailed(f"CQ (valid patron password) is {cq} for the right PIN")


@check("PN-02", "A wrong PIN is never confirmed (24 CQN)", "§7.4, §9.3", MUST, GROUP)
async def wrong_pin_refused(s: CheckSession) -> None:
    s.require_supported("23")
    patron, pin = s.require_pin()
    wire = await s.connect()
    bad = requests.patron_status(s.profile, patron.barcode, wrong_pin(pin))
    reply = await s.ask(wire, bad, PatronStatusResponse)
    assert isinstance(reply, PatronStatusResponse)
    await s.ask(wire, requests.patron_status(s.profile, patron.barcode, pin), PatronStatusResponse)
    s.note("restored: sent the right PIN afterwards to reset the patron's failure count")
    if reply.valid_patron_password is True:
        raise CheckFailed("a wrong PIN was confirmed (CQY)")
    if reply.valid_patron_password is None:
        raise CheckFailed("a wrong PIN got no CQ field: the kiosk cannot tell it was wrong")


CHECKS = (
    unknown_patron,
    unknown_patron_form,
    unknown_patron_information,
    unknown_item,
    checkout_unknown_item,
    checkin_unknown_item,
    checkout_unknown_patron,
    right_pin,
    wrong_pin_refused,
)
