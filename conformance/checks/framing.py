"""Framing and tolerance: how the server reads a TCP byte stream and imperfect requests.

Reference sections 2 (framing), 10 (pitfalls P1, P8-P10, P20, P23, P25, P36) and 13. Real kiosks
send CR LF, pipeline, split frames across segments, omit the final ``|``, leave AO/AC/AD empty
and add vendor fields; a server must read all of it. The response terminator itself is judged
over every frame of the run by the review check FR-01 (:mod:`.review`).
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta

import trio

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.judge import expect
from conformance.model import MUST, SHOULD, CheckDependent, CheckFailed, CheckSkipped, check
from conformance.wire import Closed
from sip2d.protocol import (
    ACSStatus,
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    Message,
    PatronStatusResponse,
    RenewRequest,
    RenewResponse,
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


BLANK_DATE = b" " * 18
# Where the dates these checks blank sit: 09 return date (after id, no block, transaction
# date); 11 and 29 nb due date (after id, two flags, transaction date).
RETURN_DATE = slice(21, 39)
NB_DUE_DATE = slice(22, 40)


def has_blank_return_date(request: bytes) -> bool:
    """A 09 whose return date is 18 spaces."""
    return request[:2] == b"09" and request[RETURN_DATE] == BLANK_DATE


def has_blank_nb_due_date(request: bytes) -> bool:
    """An 11 or 29 whose nb due date is 18 spaces (the on-line form every kiosk sends)."""
    return request[:2] in (b"11", b"29") and request[NB_DUE_DATE] == BLANK_DATE


async def _control_then_blank(
    s: CheckSession, request: Message, date: slice, expected: type[Message], root: str
) -> None:
    """Send ``request`` with its date filled in (the control), then with that date blank.

    The control isolates the rule: a server that does not answer the control either has a
    defect of its own that ``root`` names (an unknown item, the message itself), not this one.
    """
    control = _dated(request)
    wire = await s.connect()
    try:
        expect(await wire.request(control), expected, s.encoding)
    except CheckFailed as exc:
        raise CheckDependent(
            root,
            f"the same {control.MESSAGE_ID} with a date filled in is not answered either ({exc})",
        ) from None
    body = wire.body(request)
    await wire.send(wire.seal(body[: date.start] + BLANK_DATE + body[date.stop :]))
    expect(await wire.receive(), expected, s.encoding)


def _dated(request: Message) -> Message:
    """``request`` with the date these checks blank filled in: returned now, due in a
    fortnight."""
    if isinstance(request, CheckinRequest):
        return dataclasses.replace(request, return_date=requests.now())
    if isinstance(request, CheckoutRequest | RenewRequest):
        return dataclasses.replace(request, nb_due_date=requests.now() + timedelta(days=14))
    raise TypeError(f"no date to fill in a {request.MESSAGE_ID}")


@check("FR-11", "A blank (18 spaces) return date in 09 is accepted", "§4.1, P20", SHOULD, GROUP,
       isolates=has_blank_return_date)  # fmt: skip
async def blank_return_date(s: CheckSession) -> None:
    s.require_supported("09")
    # A checkin of the profile's item (not on loan) when changes are allowed, so a server's
    # separate trouble with unknown items cannot show here; else the unknown item, after a
    # control 09 that must be answered for the rule to be judged at all.
    item = s.profile.item if s.profile.item and s.run.allow_changes else s.profile.invalid_item
    request = requests.checkin(s.profile, item)
    await _control_then_blank(s, request, RETURN_DATE, CheckinResponse, "MS-09")
    s.note(f"checked in item {item} with a return date, then with a blank one")


@check("FR-12", "A blank (18 spaces) nb due date in 11 and 29 (the on-line form) is accepted",
       "§4.1, §7.7, §7.15, P20", MUST, GROUP, isolates=has_blank_nb_due_date)  # fmt: skip
async def blank_nb_due_date(s: CheckSession) -> None:
    # The harmless forms (the profile's invalid patron): only the nb due date differs.
    cases = [
        ("11", CheckoutResponse, "MS-11"),
        ("29", RenewResponse, "MS-29"),
    ]
    tried = [c for c in cases if s.supports(c[0])]
    if not tried:
        raise CheckSkipped("the server's BX announces neither 11 nor 29")
    for message_id, expected, root in tried:
        request = requests.harmless_request(s.profile, message_id)
        await _control_then_blank(s, request, NB_DUE_DATE, expected, root)


LONG_VALUE = 70


@check("FR-13", "Over-long identifiers (70 characters) are answered in protocol and disturb "
       "no other connection", "§2.5, §9.3", MUST, GROUP)  # fmt: skip
async def long_identifiers(s: CheckSession) -> None:
    other = await s.connect()
    wire = await s.connect()
    long_item = "4" * LONG_VALUE
    reply = expect(
        await wire.request(requests.item_information(s.profile, long_item)),
        ItemInformationResponse,
        s.encoding,
    )
    assert isinstance(reply, ItemInformationResponse)
    _echo(reply.item_identifier, long_item, f"the {LONG_VALUE}-character AB")
    if s.supports("23"):
        long_patron = "3" * LONG_VALUE
        status = expect(
            await wire.request(requests.patron_status(s.profile, long_patron)),
            PatronStatusResponse,
            s.encoding,
        )
        assert isinstance(status, PatronStatusResponse)
        _echo(status.patron_identifier, long_patron, f"the {LONG_VALUE}-character AA")
    try:
        expect(await other.request(requests.sc_status()), ACSStatus, s.encoding)
    except CheckFailed as exc:
        raise CheckFailed(
            f"after the over-long request, a 99 on another connection was not answered: {exc}"
        ) from None
    expect(await wire.request(requests.sc_status()), ACSStatus, s.encoding)


def _twice_encoded(sent: str, got: str, encoding: str) -> bool:
    """Whether ``got`` is ``sent`` encoded, read as a single-byte charset and encoded again."""
    for reading in ("latin-1", "cp1252"):
        try:
            if sent.encode(encoding).decode(reading) == got:
                return True
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue
    return False


ACCENTED = "ÉTÉ-Ñandú-ü"


@check("FR-14", "Non-ASCII text is echoed as sent, in the profile's encoding", "§2.4", SHOULD,
       GROUP)  # fmt: skip
async def non_ascii_echo(s: CheckSession) -> None:
    if s.profile.encoding == "ascii":
        raise CheckSkipped("the profile's encoding is ascii")
    wire = await s.connect()
    frame = await wire.request(requests.item_information(s.profile, ACCENTED))
    if frame.message_id == "96":
        raise CheckDependent("ED-12", "the request with non-ASCII text was refused with 96")
    reply = expect(frame, ItemInformationResponse, s.encoding)
    assert isinstance(reply, ItemInformationResponse)
    got = reply.item_identifier
    if got != ACCENTED:
        why = ""
        if _twice_encoded(ACCENTED, got, s.encoding):
            why = f": the text was encoded twice (its {s.profile.encoding} bytes were read as " \
                  "a single-byte charset and encoded again)"  # fmt: skip
        raise CheckFailed(f"AB echoed as {got!r}, sent {ACCENTED!r} in {s.profile.encoding}{why}")


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
    blank_nb_due_date,
    long_identifiers,
    non_ascii_echo,
)
