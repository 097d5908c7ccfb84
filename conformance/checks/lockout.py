"""PIN guessing limits: repeated wrong PINs must lock the card.

Run only with ``--allow-lockout``: the check uses the profile's *second* patron (so the first
stays usable for the rest of the run) and leaves it locked for the server's lockout period; the
note says how to unlock it on sip2d. A four-digit PIN falls to 10,000 guesses, so a server that
answers every guess is a kiosk away from giving any card to anyone; the reference recommends
the limit (section 7.4's CQ idiom is what web services authenticate with).
"""

from __future__ import annotations

import trio

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.checks.refusals import wrong_pin
from conformance.judge import expect
from conformance.model import SHOULD, CheckFailed, CheckSkipped, check
from conformance.wire import Wire
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


@check("LK-02", "Simultaneous wrong PINs are limited like sequential ones: after the stated "
       "threshold the right PIN is refused", "§7.4", SHOULD, GROUP, needs=("lockout",))  # fmt: skip
async def parallel_guessing(s: CheckSession) -> None:
    """A server that counts failures by reading, verifying, then writing the count loses the
    updates of guesses verified at the same time, so an attacker with many connections is never
    stopped. Sending the threshold's worth of wrong PINs at once, each on its own connection,
    must leave the patron as locked as sending them one by one: the next guess, the right PIN,
    is not verified."""
    s.require_supported("23")
    patron = s.profile.lockout_patron
    if patron is None or patron.pin is None:
        raise CheckSkipped("the profile names no [lockout_patron] with a PIN")
    pin = patron.pin.reveal()
    threshold = s.profile.lockout_threshold or s.profile.lockout_attempts
    wires = [await s.connect() for _ in range(threshold + 1)]
    first = await s.ask(wires[0], requests.patron_status(s.profile, patron.barcode, pin),
                        PatronStatusResponse)  # fmt: skip
    assert isinstance(first, PatronStatusResponse)
    if first.valid_patron_password is not True:
        raise CheckSkipped(f"the right PIN of [lockout_patron] {patron.barcode} is not confirmed "
                           "before the check (already locked?)")  # fmt: skip
    guess = wrong_pin(pin)
    failures: list[str] = []

    async def one(wire: Wire) -> None:
        await wire.send(wire.encode(requests.patron_status(s.profile, patron.barcode, guess)))
        try:
            expect(await wire.receive(), PatronStatusResponse, s.encoding)
        except CheckFailed as exc:
            failures.append(str(exc))

    async with trio.open_nursery() as nursery:
        for wire in wires[1:]:
            nursery.start_soon(one, wire)
    s.note(
        f"sent {threshold} wrong PINs at once on {threshold} connections; patron "
        f"{patron.barcode} may now be locked for the server's lockout period"
    )
    if failures:
        raise CheckFailed(f"{len(failures)} of the {threshold} guesses got no 24: {failures[0]}")
    # On a fresh connection: the first one verified the right PIN in its patron session, and
    # a server may rightly keep that verification for the session.
    fresh = await s.connect()
    reply = await s.ask(fresh, requests.patron_status(s.profile, patron.barcode, pin),
                        PatronStatusResponse)  # fmt: skip
    assert isinstance(reply, PatronStatusResponse)
    if reply.valid_patron_password is True:
        raise CheckFailed(
            f"after {threshold} simultaneous wrong PINs the right PIN is still confirmed (CQY): "
            "simultaneous guesses are not all counted, so more than the stated threshold of "
            "guesses are verified"
        )


CHECKS = (guessing_locks, parallel_guessing)
