"""PIN guessing limits: repeated wrong PINs must lock the card.

Run only with ``--allow-lockout``: the check uses the profile's *second* patron (so the first
stays usable for the rest of the run) and leaves it locked for the server's lockout period; the
note says how to unlock it on sip2d. A four-digit PIN falls to 10,000 guesses, so a server that
answers every guess is a kiosk away from giving any card to anyone; the reference recommends
the limit (section 7.4's CQ idiom is what web services authenticate with).
"""

from __future__ import annotations

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.checks.refusals import wrong_pin
from conformance.model import SHOULD, CheckFailed, CheckSkipped, check
from sip2d.protocol import PatronStatusResponse

GROUP = "PIN guessing limits (locks a patron)"


@check("LK-01", "Repeated wrong PINs lock the patron: the right PIN is then refused", "§7.4",
       SHOULD, GROUP, needs=("lockout",))  # fmt: skip
async def guessing_locks(s: CheckSession) -> None:
    s.require_supported("23")
    second, pin = s.require_second()
    if pin is None:
        raise CheckSkipped("the profile gives no PIN for [second_patron]")
    attempts = s.profile.lockout_attempts
    wire = await s.connect()
    guess = wrong_pin(pin)
    for _ in range(attempts):
        request = requests.patron_status(s.profile, second.barcode, guess)
        await s.ask(wire, request, PatronStatusResponse)
    reply = await s.ask(wire, requests.patron_status(s.profile, second.barcode, pin),
                        PatronStatusResponse)  # fmt: skip
    assert isinstance(reply, PatronStatusResponse)
    s.note(
        f"patron {second.barcode} may now be locked for the server's lockout period "
        f"(sip2d: `sip2d patron unlock {second.barcode}`)"
    )
    if reply.valid_patron_password is True:
        raise CheckFailed(
            f"after {attempts} wrong PINs the right PIN is still confirmed (CQY): "
            "nothing limits guessing"
        )


CHECKS = (guessing_locks,)
