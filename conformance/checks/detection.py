"""Error detection: checksums, sequence numbers, 96/97 resends and retried requests.

Reference section 3 and pitfalls P2-P7, P17-P19. The response trailer of every exchange of the
run (AY echoed, checksum verifies, four upper-case digits) is judged by the review checks in
:mod:`.review`; this module sends the requests that exercise the server's side of the rules.
"""

from __future__ import annotations

from conformance import requests
from conformance.checks.changes import restore
from conformance.checks.context import CheckSession
from conformance.judge import body_of, expect, read
from conformance.model import MUST, SHOULD, CheckFailed, CheckSkipped, check
from conformance.wire import Frame, Wire
from sip2d.protocol import (
    ACSStatus,
    CheckoutResponse,
    ItemInformationResponse,
    PatronStatusResponse,
)
from sip2d.protocol.trailer import split_trailer

GROUP = "Error detection"


def corrupt_checksum(data: bytes) -> bytes:
    """``data`` (a checksummed frame with terminator) with a checksum that does not verify."""
    end = data.rstrip(b"\r\n")
    terminator = data[len(end) :]
    value = (int(end[-4:], 16) + 1) & 0xFFFF
    return end[:-4] + b"%04X" % value + terminator


def lowercase_checksum(data: bytes) -> bytes:
    end = data.rstrip(b"\r\n")
    return end[:-4] + end[-4:].lower() + data[len(end) :]


def check_96(frame: Frame) -> None:
    """A 96 is bare ``96`` or ``96AZFEF6``: never AY, never any field."""
    if frame.message_id != "96":
        raise CheckFailed(f"expected 96 (request SC resend), got {frame.message_id!r}")
    body, trailer = split_trailer(frame.body)
    if trailer is not None and trailer.sequence is not None:
        raise CheckFailed("the 96 carries AY: a 96 never has a sequence number")
    if body != b"96":
        raise CheckFailed(f"the 96 carries more than its id: {body!r}")


async def resend_request(wire: Wire) -> None:
    """Send a 97 in the form the run uses (``97AZFEF5`` when error detection is on)."""
    await wire.send(b"97AZFEF5\r" if wire.checksums else b"97\r", judge=False)


@check("ED-04", "A request with a bad checksum is answered with 96", "§3.4", MUST, GROUP)
async def bad_checksum(s: CheckSession) -> None:
    s.require_checksums()
    wire = await s.connect()
    await wire.send(corrupt_checksum(wire.encode(requests.sc_status())), judge=False)
    check_96(await wire.receive())


@check("ED-05", "A checkout with a bad checksum is not executed", "§3.4", MUST, GROUP,
       needs=("changes",))  # fmt: skip
async def bad_checksum_not_executed(s: CheckSession) -> None:
    s.require_checksums()
    s.require_supported("11")
    barcode, pin = s.patron_pin()
    item = s.require_item()
    wire = await s.connect()
    before = await _circulation_status(s, wire, item)
    data = wire.encode(requests.checkout(s.profile, barcode, item, pin))
    await wire.send(corrupt_checksum(data), judge=False)
    frame = await wire.receive()
    after = await _circulation_status(s, wire, item)
    if after != before:
        await restore(s, wire, item)
        raise CheckFailed(
            f"the item's circulation status changed from {before} to {after}: the checkout "
            "with a bad checksum was executed (the item has been checked back in)"
        )
    check_96(frame)


async def _circulation_status(s: CheckSession, wire: Wire, item: str) -> str:
    reply = await s.ask(wire, requests.item_information(s.profile, item), ItemInformationResponse)
    assert isinstance(reply, ItemInformationResponse)
    return reply.circulation_status


@check("ED-06", "Requests without a trailer get responses without one", "§3.5, P17", SHOULD,
       GROUP)  # fmt: skip
async def no_trailer_mirrored(s: CheckSession) -> None:
    if s.profile.error_detection == "always":
        raise CheckSkipped("the profile says the server always uses error detection")
    wire = await s.connect()
    item = s.profile.item or s.profile.invalid_item
    for message in (requests.sc_status(), requests.item_information(s.profile, item)):
        frame = await wire.request(message, trailer=False)
        if split_trailer(frame.body)[1] is not None or frame.body[-6:-4] == b"AZ":
            raise CheckFailed(
                f"the {frame.message_id} response carries an AY/AZ trailer although the request "
                "had none"
            )


@check("ED-07", "A request checksum in lower-case hex is accepted", "§3.2, P3, E51", SHOULD,
       GROUP)  # fmt: skip
async def lowercase_accepted(s: CheckSession) -> None:
    s.require_checksums()
    wire = await s.connect()
    data = wire.encode(requests.sc_status())
    for _ in range(9):  # another sequence number gives another checksum: want a hex letter
        if not data.rstrip(b"\r")[-4:].isdigit():
            break
        data = wire.encode(requests.sc_status())
    await wire.send(lowercase_checksum(data))
    expect(await wire.receive(), ACSStatus, s.encoding)


async def _response_then_resend(s: CheckSession) -> tuple[Frame, Frame]:
    wire = await s.connect()
    barcode = s.profile.patron.barcode if s.profile.patron else s.profile.invalid_patron
    first = await wire.request(requests.patron_status(s.profile, barcode))
    expect(first, PatronStatusResponse, s.encoding)
    await resend_request(wire)
    return first, await wire.receive()


@check("ED-08", "97 is answered by retransmitting the last response", "§3.4, §7.3", MUST, GROUP)
async def resend_last(s: CheckSession) -> None:
    first, again = await _response_then_resend(s)
    if again.message_id != first.message_id:
        raise CheckFailed(f"97 was answered with {again.message_id!r}, not the last response (24)")
    if body_of(again) != body_of(first):
        raise CheckFailed("the retransmitted 24 differs from the original response")


@check("ED-09", "The retransmission after 97 is byte-for-byte the original", "§3.4, P18",
       SHOULD, GROUP)  # fmt: skip
async def resend_verbatim(s: CheckSession) -> None:
    first, again = await _response_then_resend(s)
    if again.body != first.body:
        raise CheckFailed(
            "the retransmitted response is not identical to the original (trailer rebuilt?)"
        )


@check("ED-10", "97 before any response is answered with 96", "§3.4", SHOULD, GROUP)
async def resend_before_response(s: CheckSession) -> None:
    wire = await s.connect(login=False)
    await resend_request(wire)
    check_96(await wire.receive())


@check("ED-11", "Data containing AY and AZ does not confuse the trailer", "§2.6, P7, E55",
       MUST, GROUP)  # fmt: skip
async def ay_az_in_data(s: CheckSession) -> None:
    s.require_checksums()
    wire = await s.connect()
    tricky = "HAYASHI-KAZUO-AY1AZ"
    frame = await wire.request(requests.item_information(s.profile, tricky))
    reply = expect(frame, ItemInformationResponse, s.encoding)
    assert isinstance(reply, ItemInformationResponse)
    if reply.item_identifier != tricky:
        raise CheckFailed(f"AB echoed as {reply.item_identifier!r}, sent {tricky!r}")


@check("ED-12", "The checksum of non-ASCII text is computed over the encoded bytes",
       "§2.4, P5, P6", SHOULD, GROUP)  # fmt: skip
async def non_ascii(s: CheckSession) -> None:
    s.require_checksums()
    if s.profile.encoding == "ascii":
        raise CheckSkipped("the profile's encoding is ascii")
    wire = await s.connect()
    # Only the checksum is judged here: whether the text comes back intact is FR-14's rule.
    frame = await wire.request(requests.item_information(s.profile, "ÉTÉ-Ñandú-ü"))
    if frame.message_id == "96":
        raise CheckFailed(
            f"a checksum computed over the {s.profile.encoding} bytes was rejected with 96"
        )
    expect(frame, ItemInformationResponse, s.encoding)


@check("ED-13", "A retried checkout (same AY and checksum) is answered, not executed twice",
       "§3.4, P19", SHOULD, GROUP, needs=("changes",))  # fmt: skip
async def retried_checkout(s: CheckSession) -> None:
    s.require_checksums()
    s.require_supported("11")
    barcode, pin = s.patron_pin()
    item = s.require_item()
    wire = await s.connect()
    data = wire.encode(requests.checkout(s.profile, barcode, item, pin))
    await wire.send(data)
    first = await wire.receive()
    try:
        reply = expect(first, CheckoutResponse, s.encoding)
        assert isinstance(reply, CheckoutResponse)
        if not reply.ok:
            text = "; ".join(reply.screen_message)
            raise CheckFailed(f"precondition: the first checkout was refused ({text})")
        await wire.send(data)
        second = await wire.receive()
        again = read(second, s.encoding)
        if second.body != first.body:
            what = "a different response"
            if again is not None and isinstance(again.message, CheckoutResponse):
                if not again.message.ok:
                    what = "a refusal"
                elif again.message.renewal_ok:
                    what = "a renewal"
            raise CheckFailed(
                f"the retried checkout got {what}: the server executed it again instead of "
                "resending its stored response"
            )
    finally:
        await restore(s, wire, item)


CHECKS = (
    bad_checksum,
    bad_checksum_not_executed,
    no_trailer_mirrored,
    lowercase_accepted,
    resend_last,
    resend_verbatim,
    resend_before_response,
    ay_az_in_data,
    non_ascii,
    retried_checkout,
)
