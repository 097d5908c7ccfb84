"""Every message pair, and whether the BX field of the 98 tells the truth about them.

Reference sections 5.3, 7 and 9.3. One check per request id sends the harmless form of that
request (see :func:`conformance.requests.harmless_request`) and judges that the answer is the
right response type and echoes the identifiers it was given; the format of every answer is
judged separately by the review checks. BX-01 and BX-02 then ask the same of every message the
server announces, and of every message it says it does not support: the first must be answered
properly, the second must at least not leave the kiosk waiting.
"""

from __future__ import annotations

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.judge import variable_codes
from conformance.model import MUST, Check, CheckFailed, CheckSkipped, check
from conformance.wire import Closed, Frame, NoResponse, Wire, WireError
from sip2d.protocol import MESSAGE_TYPES, ACSStatus, Message

GROUP = "Messages"

# Request id, its name, the reference section, and the identifiers its response must echo.
MESSAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("99", "SC Status", "§7.2", ()),
    ("23", "Patron Status", "§7.4", ("patron_identifier",)),
    ("63", "Patron Information", "§7.6", ("patron_identifier",)),
    ("17", "Item Information", "§7.9", ("item_identifier",)),
    ("35", "End Patron Session", "§7.12", ("patron_identifier",)),
    ("11", "Checkout", "§7.7", ("patron_identifier", "item_identifier")),
    ("09", "Checkin", "§7.8", ("item_identifier",)),
    ("29", "Renew", "§7.15", ("patron_identifier",)),
    ("65", "Renew All", "§7.16", ()),
    ("15", "Hold", "§7.14", ("patron_identifier",)),
    ("37", "Fee Paid", "§7.13", ("patron_identifier",)),
    ("01", "Block Patron", "§7.5", ("patron_identifier",)),
    ("25", "Patron Enable", "§7.11", ("patron_identifier",)),
    ("19", "Item Status Update", "§7.10", ("item_identifier",)),
)
ECHOES = {message_id: echoes for message_id, _n, _s, echoes in MESSAGES}
# BX positions the suite probes (93 is SE-01, 97 is ED-08), in BX order.
BX_PROBED = ("23", "11", "09", "01", "99", "63", "35", "37", "17", "19", "25", "15", "29", "65")


def response_type(message_id: str) -> type[Message]:
    return MESSAGE_TYPES[requests.RESPONSE_IDS[message_id]]


async def probe(s: CheckSession, wire: Wire, message_id: str) -> tuple[Message, Frame]:
    """Send the harmless request ``message_id``; its response, judged for type and echo."""
    request = requests.harmless_request(s.profile, message_id)
    reply, frame = await s.ask_frame(wire, request, response_type(message_id))
    for attr in ECHOES.get(message_id, ()):
        sent, got = getattr(request, attr), getattr(reply, attr, None)
        if got != sent:
            code = {"patron_identifier": "AA", "item_identifier": "AB"}[attr]
            raise CheckFailed(f"{code} echoed as {got!r}, the request sent {sent!r}")
    return reply, frame


def _message_check(message_id: str, name: str, section: str) -> Check:
    response = requests.RESPONSE_IDS[message_id]
    title = f"{message_id} {name} is answered with {response}"

    async def run(s: CheckSession) -> None:
        if message_id != "99":
            s.require_supported(message_id)
        wire = await s.connect()
        reply, frame = await probe(s, wire, message_id)
        if isinstance(reply, ACSStatus):
            if reply.protocol_version != "2.00":
                raise CheckFailed(f"98 states protocol {reply.protocol_version!r}, not 2.00")
            if "BX" not in variable_codes(frame, s.encoding):
                raise CheckFailed("98 has no BX (supported messages) field")

    return check(f"MS-{message_id}", title, section, MUST, GROUP)(run)


MESSAGE_CHECKS: tuple[Check, ...] = tuple(_message_check(*entry[:3]) for entry in MESSAGES)


@check("BX-01", "Every message the 98 BX announces is answered with its response type", "§5.3",
       MUST, GROUP)  # fmt: skip
async def announced_answered(s: CheckSession) -> None:
    if s.run.supported is None:
        raise CheckSkipped("no usable 98 (BX) was received")
    announced = [m for m in BX_PROBED if s.supports(m)]
    failures: list[str] = []
    unanswered = 0
    wire = await s.connect()
    for message_id in announced:
        try:
            await probe(s, wire, message_id)
        except (NoResponse, Closed) as exc:
            failures.append(f"{message_id}: {exc}")
            unanswered += 1
            wire = await s.connect()
        except CheckFailed as exc:
            failures.append(f"{message_id}: {exc}")
    if failures:
        text = (
            f"{len(failures)} of {len(announced)} announced messages not answered properly: "
            + "; ".join(failures)
        )
        # Only unanswered requests: their root causes may be named by other checks.
        raise (WireError if unanswered == len(failures) else CheckFailed)(text)
    s.note(f"answered properly: {' '.join(announced)}")


@check("BX-02", "Messages the 98 BX does not announce get a refusal or 96, not silence",
       "§9.3", MUST, GROUP)  # fmt: skip
async def unannounced_answered(s: CheckSession) -> None:
    if s.run.supported is None:
        raise CheckSkipped("no usable 98 (BX) was received")
    unannounced = [m for m in BX_PROBED if not s.supports(m)]
    if not unannounced:
        raise CheckSkipped("the BX announces every message")
    silent: list[str] = []
    for message_id in unannounced:
        wire = await s.connect()
        await wire.send(wire.encode(requests.harmless_request(s.profile, message_id)))
        try:
            frame = await wire.receive()
        except Closed:
            s.note(f"{message_id}: the server closed the connection")
            continue
        except NoResponse:
            silent.append(message_id)
            continue
        wanted = requests.RESPONSE_IDS[message_id]
        if frame.message_id not in (wanted, "96"):
            silent.append(f"{message_id} (answered with {frame.message_id!r})")
        else:
            s.note(f"{message_id}: answered with {frame.message_id}")
    if silent:
        raise CheckFailed(
            "no refusal, 96 or close for unannounced message(s): " + ", ".join(silent)
        )


BX_CHECKS = (announced_answered, unannounced_answered)
CHECKS: tuple[Check, ...] = (*MESSAGE_CHECKS, *BX_CHECKS)
