"""Frames to typed messages and back, driven by the layout tables.

This is the generic half of the h11 split: :mod:`.messages` says what each message looks like,
this module is the public entry point that reads and writes any of them. At import time every
``LAYOUT`` is compiled into a :class:`~sip2d.protocol.plans.Plan` (see there for how and why), so
no message has hand-written parsing code.

Decoding is lenient by default because real kiosks are buggy (reference section 10): missing final
``|``, ``||``, empty or missing AO/AC/AD, blank or zero dates, odd zone characters, ``y`` for
``Y``, lower-case checksums and unknown fields are all accepted. Only what cannot be represented
raises :class:`MalformedMessage` (a required field missing, a fixed part too short or cut in the
wrong place, a count that is not a number, a NUL byte). ``strict=True`` additionally collects every
deviation from the canonical form (the conformance suite judges other servers with it) and raises
one :class:`MalformedMessage` whose ``problems`` lists them all; :func:`validate` returns the list
instead of raising.

The checksum is verified on the raw bytes before anything is decoded; a bad one raises
:class:`ChecksumError` so the server answers 96 and executes nothing.
"""

from __future__ import annotations

from typing import NamedTuple

from sip2d.protocol import charset
from sip2d.protocol.errors import (
    ChecksumError,
    MalformedMessage,
    Problem,
    ProtocolError,
    UnknownMessage,
)
from sip2d.protocol.messages import MESSAGE_CLASSES, Message
from sip2d.protocol.plans import Plan
from sip2d.protocol.strict import find_problems
from sip2d.protocol.trailer import Trailer, trailer_bytes

_LEADING_CONTROL = bytes(range(0x20))
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")
# NamedTuple.__new__ is a Python function; tuple.__new__ builds the same object in C.
_new_tuple = tuple.__new__
_NO_SEQUENCE_IDS = frozenset({"96", "97"})
_NO_SEQUENCE_BYTES = frozenset({b"96", b"97"})


class Received(NamedTuple):
    """A decoded frame: the typed ``message``, its ``trailer`` (``None`` without AZ), ``raw`` bytes.

    Immutable. ``raw`` is kept for duplicate detection and verbatim resends; it may contain a PIN,
    so it is left out of ``repr`` and must never be logged. (A NamedTuple: it is created for
    every frame and costs a third of a frozen dataclass.)
    """

    message: Message
    trailer: Trailer | None
    raw: bytes

    def __repr__(self) -> str:
        return f"Received(message={self.message!r}, trailer={self.trailer!r})"


_PLANS_BY_ID: dict[bytes, Plan] = {
    cls.MESSAGE_ID.encode("ascii"): Plan(cls) for cls in MESSAGE_CLASSES
}
_PLANS_BY_CLASS: dict[type[Message], Plan] = {plan.cls: plan for plan in _PLANS_BY_ID.values()}

# (single_byte, ascii_only) for the spellings we expect; others are looked up once per call.
_ENCODING_TRAITS: dict[str, tuple[bool, bool]] = {
    "utf-8": (False, False),
    "utf8": (False, False),
    "latin-1": (True, False),
    "latin1": (True, False),
    "iso-8859-1": (True, False),
    "cp850": (True, False),
    "ascii": (True, True),
}


def _encoding_traits(encoding: str) -> tuple[bool, bool]:
    traits = _ENCODING_TRAITS.get(encoding)
    if traits is None:
        name = charset.canonical_encoding(encoding)
        traits = (charset.is_single_byte(name), name == "ascii")
    return traits


# --- public API ---------------------------------------------------------------------------------


def peek_message_id(frame: bytes) -> str | None:
    """The two-digit message id at the start of ``frame``, or ``None`` if there is none.

    For logging and for choosing a refusal when a frame fails to decode.
    """
    head = frame.lstrip(_LEADING_CONTROL)[:2]
    if len(head) == 2 and head.isdigit():
        return head.decode("ascii")
    return None


def decode(frame: bytes, encoding: str = "utf-8", *, strict: bool = False) -> Received:
    """Decode one frame (as returned by ``FrameBuffer.next_frame``) into a typed message.

    Raises :class:`ChecksumError`, :class:`UnknownMessage` or :class:`MalformedMessage`, all
    subclasses of :class:`ProtocolError`. With ``strict=True`` every non-canonical detail is also
    an error, and the raised ``MalformedMessage.problems`` lists all of them.
    """
    body = frame
    trailer = None
    # split_trailer inlined (hot path): AZ + 4 hex digits anchored at the end, then AY + digit.
    if frame[-6:-4] == b"AZ" and _HEX.issuperset(frame[-4:]):
        if (sum(frame[:-4]) + int(frame[-4:], 16)) & 0xFFFF:
            raise ChecksumError(
                "checksum does not verify",
                message_id=peek_message_id(frame),
                field="AZ",
                position=len(frame) - 6,
            )
        checksum = frame[-4:].decode("ascii").upper()
        if frame[-9:-7] == b"AY" and frame[-7] in _DIGITS:
            body = frame[:-9]
            trailer = _new_tuple(Trailer, (frame[-7] - 0x30, checksum))
        else:
            body = frame[:-6]
            trailer = _new_tuple(Trailer, (None, checksum))
    plan = _PLANS_BY_ID.get(body[:2])
    if plan is None:
        if len(frame) < 2:
            raise MalformedMessage("frame too short for a message id", position=len(frame))
        raise UnknownMessage("unknown message id", message_id=peek_message_id(frame), position=0)
    if b"\x00" in body:
        raise MalformedMessage(
            "NUL byte in frame", message_id=plan.message_id, position=body.index(b"\x00")
        )
    fell_back = False
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:  # never drop a patron's transaction over a charset (ref. 2.4)
        text = body.decode("latin-1")
        fell_back = True
    if not strict:
        return _new_tuple(Received, (plan.decode(text), trailer, frame))
    try:
        received: Received | None = Received(plan.decode(text), trailer, frame)
        fatal: list[Problem] = []
    except MalformedMessage as exc:
        received = None
        fatal = list(exc.problems)
    problems = find_problems(plan.message_id, plan.layout, text, encoding)
    if fell_back:
        problems.insert(0, Problem(plan.message_id, None, None, f"bytes are not valid {encoding}"))
    if trailer is not None:
        if trailer.checksum != frame[-4:].decode("ascii"):
            problems.append(Problem(plan.message_id, "AZ", len(frame) - 4, "lower-case checksum"))
        if trailer.sequence is not None and plan.message_id in _NO_SEQUENCE_IDS:
            problems.append(
                Problem(plan.message_id, "AY", len(body), f"{plan.message_id} must not carry AY")
            )
    # A fatal problem the strict pass did not itself describe goes first.
    for problem in fatal:
        if not any(p.field == problem.field and p.reason == problem.reason for p in problems):
            problems.insert(0, problem)
    if problems:
        raise MalformedMessage.from_problems(tuple(problems), received)
    assert received is not None
    return received


def validate(frame: bytes, encoding: str = "utf-8") -> tuple[Problem, ...]:
    """Every problem strict decoding finds in ``frame`` (empty when it is canonical)."""
    try:
        decode(frame, encoding, strict=True)
    except MalformedMessage as exc:
        return exc.problems
    except ProtocolError as exc:
        return (exc.problem,)
    return ()


def encode(
    message: Message,
    encoding: str = "utf-8",
    *,
    sequence: int | None = None,
    checksum: bool = False,
    terminator: bytes = b"\r",
) -> bytes:
    """Encode a message to wire bytes, terminator included.

    Values are made safe on the way out (``|``, CR, LF, NUL -> space; 255-byte cut; ASCII
    transliteration). ``checksum=True`` appends ``AY<sequence>AZxxxx``, or ``AZxxxx`` when
    ``sequence`` is ``None`` or the message is 96/97 (which never carry AY). ``sequence`` is
    ignored without ``checksum``: AY is only defined as part of the trailer.
    """
    return finish_frame(
        encode_body(message, encoding),
        sequence=sequence,
        checksum=checksum,
        terminator=terminator,
    )


def encode_body(message: Message, encoding: str = "utf-8") -> bytes:
    """The bytes of ``message`` before any trailer: what :func:`finish_frame` completes.

    Split from :func:`encode` so a server can encode a response once and send it in answer to
    many requests, each with its own mirrored ``AY``/``AZ`` trailer.
    """
    plan = _PLANS_BY_CLASS.get(type(message))
    if plan is None:
        raise TypeError(f"not a SIP2 message: {type(message).__name__}")
    single_byte, ascii_only = _encoding_traits(encoding)
    return plan.encode(message, encoding, single_byte, ascii_only).encode(encoding, "replace")


def finish_frame(
    body: bytes,
    *,
    sequence: int | None = None,
    checksum: bool = False,
    terminator: bytes = b"\r",
) -> bytes:
    """``body`` (from :func:`encode_body`) with its trailer and terminator, as :func:`encode`."""
    if checksum:
        if body[:2] in _NO_SEQUENCE_BYTES:
            sequence = None
        body += trailer_bytes(body, sequence)
    return body + terminator
