"""Framing and tolerance: how the server reads a TCP byte stream and imperfect requests.

Reference sections 2 (framing), 10 (pitfalls P1, P8-P10, P20, P23, P25, P36) and 13. Real kiosks
send CR LF, pipeline, split frames across segments, omit the final ``|``, leave AO/AC/AD empty
and add vendor fields; a server must read all of it. The response terminator itself is judged
over every frame of the run by the review check FR-01 (:mod:`.review`).
"""

from __future__ import annotations

import itertools

import trio

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.judge import expect
from conformance.model import MUST, SHOULD, CheckFailed, check
from conformance.wire import Closed
from sip2d.protocol import (
    ACSStatus,
    CheckinResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    PatronStatusResponse,
)

GROUP = "Framing and tolerance"
OVERSIZE_BYTES = 256 * 1024


def _item(s: CheckSession) -> str:
    return s.profile.item or s.profile.invalid_item


def _echo(actual: str, wanted: str, what: str) -> None:
    if actual != wanted:
        raise CheckFailed(f"{what} echoed as {actual!r}, sent {wanted!r}")


def _recognised(reply: PatronStatusResponse) -> None:
    if reply.valid_patron is False:
        raise CheckFailed("the profile's valid patron was reported as not valid (BLN)")


@check("FR-02", "Requests terminated by CR LF are accepted", "§2.2, P1", SHOULD, GROUP)
async def crlf_requests(s: CheckSession) -> None:
    wire = await s.connect()
    await wire.send(wire.encode(requests.sc_status(), terminator=b"\r\n"))
    expect(await wire.receive(), ACSStatus, s.encoding)
    item = requests.item_information(s.profile, _item(s))
    await wire.send(wire.encode(item, terminator=b"\r\n"))
    expect(await wire.receive(), ItemInformationResponse, s.encoding)
    # The LF of the last CR LF must not spoil the next, CR-terminated, request.
    barcode, _pin = s.patron_pin() if s.profile.patron else (s.profile.invalid_patron, None)
    frame = await wire.request(requests.patron_status(s.profile, barcode))
    expect(frame, PatronStatusResponse, s.encoding)


@check("FR-03", "Several requests in one TCP segment are all answered, in order", "§2.6, P36",
       MUST, GROUP)  # fmt: skip
async def pipelined(s: CheckSession) -> None:
    wire = await s.connect()
    first = wire.encode(requests.sc_status())
    second = wire.encode(requests.item_information(s.profile, _item(s)))
    await wire.send(first + second)
    expect(await wire.receive(), ACSStatus, s.encoding)
    expect(await wire.receive(), ItemInformationResponse, s.encoding)


@check("FR-04", "A request split over several TCP segments is answered", "§2.6, P36", MUST,
       GROUP)  # fmt: skip
async def split_frame(s: CheckSession) -> None:
    wire = await s.connect()
    barcode = s.profile.patron.barcode if s.profile.patron else s.profile.invalid_patron
    data = wire.encode(requests.patron_status(s.profile, barcode))
    cuts = [0, 3, len(data) // 2, len(data)]
    s.recorder.event(wire.number, f"sending one request in {len(cuts) - 1} segments")
    for start, end in itertools.pairwise(cuts):
        if start == 0:
            await wire.send(data[start:end])
        else:
            await wire.send_more(data[start:end])
        await trio.sleep(0.05)
    reply = expect(await wire.receive(), PatronStatusResponse, s.encoding)
    assert isinstance(reply, PatronStatusResponse)
    _echo(reply.patron_identifier, barcode, "AA")


@check("FR-05", "An empty line is ignored or answered with 96", "§2.2", SHOULD, GROUP)
async def empty_line(s: CheckSession) -> None:
    wire = await s.connect()
    await wire.send(b"\r", judge=False)
    await wire.send(wire.encode(requests.sc_status()), judge=False)
    frame = await wire.receive()
    if frame.message_id == "96":
        s.note("the server answered the empty line with 96")
        frame = await wire.receive()
    expect(frame, ACSStatus, s.encoding)


@check("FR-06", "An oversize frame closes that connection and the server keeps serving", "§2.5",
       SHOULD, GROUP)  # fmt: skip
async def oversize(s: CheckSession) -> None:
    wire = await s.connect()
    s.recorder.event(wire.number, f"sending {OVERSIZE_BYTES} bytes without a terminator")
    try:
        await wire.send(b"9" * OVERSIZE_BYTES, judge=False)
        closed = await wire.wait_closed()
    except Closed:
        closed = True
    if not closed:
        raise CheckFailed(
            f"the connection stayed open after {OVERSIZE_BYTES} bytes without a terminator"
        )
    fresh = await s.connect()
    expect(await fresh.request(requests.sc_status()), ACSStatus, s.encoding)


@check("FR-07", "A request whose last field lacks its final | is accepted", "§11 E56, P23",
       SHOULD, GROUP)  # fmt: skip
async def missing_final_delimiter(s: CheckSession) -> None:
    wire = await s.connect()
    item = _item(s)
    message = ItemInformationRequest(
        transaction_date=requests.now(), institution_id=s.profile.institution_id,
        item_identifier=item,
    )  # fmt: skip
    body = wire.body(message)  # ends with "AB<item>|"
    await wire.send(wire.seal(body[:-1]))
    reply = expect(await wire.receive(), ItemInformationResponse, s.encoding)
    assert isinstance(reply, ItemInformationResponse)
    _echo(reply.item_identifier, item, "AB (the unterminated last field)")


@check("FR-08", "Unknown field identifiers in a request are ignored", "§8, P25", MUST, GROUP)
async def unknown_fields(s: CheckSession) -> None:
    wire = await s.connect()
    item = _item(s)
    message = ItemInformationRequest(
        transaction_date=requests.now(),
        institution_id=s.profile.institution_id,
        item_identifier=item,
        terminal_password=s.profile.terminal_password.reveal(),
        extra=(("ZZ", "conformance suite"), ("XQ", "")),
    )
    reply = expect(await wire.request(message), ItemInformationResponse, s.encoding)
    assert isinstance(reply, ItemInformationResponse)
    _echo(reply.item_identifier, item, "AB")


@check("FR-09", "Variable fields in a non-spec order are accepted", "§2.1", SHOULD, GROUP)
async def reordered_fields(s: CheckSession) -> None:
    patron = s.require_patron()
    wire = await s.connect()
    body = wire.body(requests.patron_status(s.profile, patron.barcode))
    fixed_end = 2 + 21
    fields = [f for f in body[fixed_end:].split(b"|") if f]
    reordered = body[:fixed_end] + b"".join(f + b"|" for f in reversed(fields))
    await wire.send(wire.seal(reordered))
    reply = expect(await wire.receive(), PatronStatusResponse, s.encoding)
    assert isinstance(reply, PatronStatusResponse)
    _echo(reply.patron_identifier, patron.barcode, "AA")
    _recognised(reply)


@check("FR-10", "Empty AO, AC and AD fields are accepted", "P8, P9, P10", SHOULD, GROUP)
async def empty_fields(s: CheckSession) -> None:
    patron = s.require_patron()
    wire = await s.connect()
    body = wire.body(requests.patron_status(s.profile, patron.barcode))
    fixed = body[: 2 + 21]
    tampered = fixed + b"AO|AA" + patron.barcode.encode(s.encoding) + b"|AC|AD|"
    await wire.send(wire.seal(tampered))
    reply = expect(await wire.receive(), PatronStatusResponse, s.encoding)
    assert isinstance(reply, PatronStatusResponse)
    _echo(reply.patron_identifier, patron.barcode, "AA")
    _recognised(reply)


@check("FR-11", "A blank (18 spaces) return date in 09 is accepted", "§4.1, P20", SHOULD, GROUP)
async def blank_return_date(s: CheckSession) -> None:
    s.require_supported("09")
    wire = await s.connect()
    body = wire.body(requests.checkin(s.profile, s.profile.invalid_item))
    # 09 fixed part: id, no block (1), transaction date (18), return date (18).
    blank = body[:21] + b" " * 18 + body[39:]
    await wire.send(wire.seal(blank))
    expect(await wire.receive(), CheckinResponse, s.encoding)


CHECKS = (
    crlf_requests,
    pipelined,
    split_frame,
    empty_line,
    oversize,
    missing_final_delimiter,
    unknown_fields,
    reordered_fields,
    empty_fields,
    blank_return_date,
)
