"""Frames to typed messages and back, driven by the layout tables.

This is the generic half of the h11 split: :mod:`.messages` says what each message looks like,
this module reads and writes any of them. At import time every ``LAYOUT`` is compiled into a
:class:`_Plan` (slice offsets, parser and formatter functions, lookup dicts), so decoding a frame
is a handful of slices, one ``split("|")`` and one dict lookup per field, and no per-message code
exists anywhere.

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

import dataclasses
from collections.abc import Callable
from typing import Any

from sip2d.protocol import charset
from sip2d.protocol.errors import (
    ChecksumError,
    MalformedMessage,
    Problem,
    ProtocolError,
    UnknownMessage,
)
from sip2d.protocol.layout import CODE, DIGITS, LENIENT, REQUIRED, Kind
from sip2d.protocol.messages import MESSAGE_CLASSES, Message
from sip2d.protocol.trailer import Trailer, split_trailer, trailer_bytes

_LEADING_CONTROL = bytes(range(0x20))
_NO_SEQUENCE_IDS = frozenset({"96", "97"})


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """A decoded frame: the typed ``message``, its ``trailer`` (``None`` without AZ), ``raw`` bytes.

    ``raw`` is kept for duplicate detection and verbatim resends; it may contain a PIN, so it is
    left out of ``repr`` and must never be logged.
    """

    message: Message
    trailer: Trailer | None
    raw: bytes = dataclasses.field(repr=False)


# --- plans --------------------------------------------------------------------------------------


class _Plan:
    """One message class's layout compiled for speed."""

    __slots__ = (
        "cls",
        "decode_fixed",
        "defaults",
        "encode_fixed",
        "encode_var",
        "fixed",
        "fixed_end",
        "has_variable",
        "lenient",
        "message_id",
        "message_id_bytes",
        "repeatable",
        "required",
        "var_by_code",
    )

    def __init__(self, cls: type[Message]) -> None:
        layout = cls.LAYOUT
        self.cls = cls
        self.message_id = cls.MESSAGE_ID
        self.message_id_bytes = cls.MESSAGE_ID.encode("ascii")
        self.fixed = layout.fixed
        self.has_variable = bool(layout.variable)
        start = 2
        decode_fixed: list[tuple[str, int, int, Callable[[str], Any]]] = []
        encode_fixed: list[tuple[str, Callable[[Any], str], int, bool]] = []
        for field in layout.fixed:
            decode_fixed.append((field.attr, start, start + field.width, field.kind.parse))
            needs_fit = field.kind is CODE or field.kind is DIGITS
            encode_fixed.append((field.attr, field.kind.format, field.width, needs_fit))
            start += field.width
        self.decode_fixed = tuple(decode_fixed)
        self.encode_fixed = tuple(encode_fixed)
        self.fixed_end = start
        # code -> (attr, parse, repeatable, kind)
        self.var_by_code: dict[str, tuple[str, Callable[[str], Any], bool, Kind]] = {
            v.code: (v.attr, v.kind.parse, v.repeatable, v.kind) for v in layout.variable
        }
        self.required = tuple((v.code, v.attr) for v in layout.variable if v.need is REQUIRED)
        self.lenient = tuple(
            (v.code, v.attr, v.kind.empty) for v in layout.variable if v.need is LENIENT
        )
        self.repeatable = tuple(v.attr for v in layout.variable if v.repeatable)
        defaults: dict[str, object] = {}
        for v in layout.variable:
            if v.repeatable:
                defaults[v.attr] = ()
            elif v.need is LENIENT:
                defaults[v.attr] = v.kind.empty
            else:
                defaults[v.attr] = None
        self.defaults = defaults
        # (code, attr, format, is_text, repeatable)
        self.encode_var = tuple(
            (v.code, v.attr, v.kind.format, v.kind.text, v.repeatable) for v in layout.variable
        )

    # -- decoding --

    def decode(self, text: str) -> Message:
        if len(text) < self.fixed_end:
            raise self._too_short(len(text))
        kwargs: dict[str, Any] = {}
        for attr, start, end, parse in self.decode_fixed:
            try:
                kwargs[attr] = parse(text[start:end])
            except ValueError as exc:
                raise MalformedMessage(
                    str(exc), message_id=self.message_id, field=attr, position=start
                ) from None
        kwargs.update(self.defaults)
        extra: list[tuple[str, str]] = []
        rest = text[self.fixed_end :]
        if rest:
            found = self._decode_variable(rest, kwargs, extra)
            for code, attr in self.required:
                if attr not in found:
                    raise MalformedMessage(
                        "required field missing",
                        message_id=self.message_id,
                        field=code,
                        position=len(text),
                    )
        elif self.required:
            code = self.required[0][0]
            raise MalformedMessage(
                "required field missing",
                message_id=self.message_id,
                field=code,
                position=len(text),
            )
        if extra:
            kwargs["extra"] = tuple(extra)
        return self.cls(**kwargs)

    def _decode_variable(
        self, rest: str, kwargs: dict[str, Any], extra: list[tuple[str, str]]
    ) -> set[str]:
        var_by_code = self.var_by_code
        found: set[str] = set()
        lists: dict[str, list[str]] = {}
        position = self.fixed_end
        first = self.has_variable
        for piece in rest.split("|"):
            if not piece:
                position += 1
                continue
            code = piece[:2]
            if first:
                first = False
                if not _is_field_code(code):
                    # The fixed part was shorter or longer than the layout: every field after
                    # it would be garbage, so refuse rather than guess.
                    raise MalformedMessage(
                        "fixed part has the wrong length (no field code where one must start)",
                        message_id=self.message_id,
                        position=position,
                    )
            spec = var_by_code.get(code)
            if spec is None:
                extra.append((code, piece[2:]))
            else:
                attr, parse, repeatable, _kind = spec
                if repeatable:
                    if attr in lists:
                        lists[attr].append(piece[2:])
                    else:
                        lists[attr] = [piece[2:]]
                elif attr not in found:  # a duplicate keeps the first value (P25)
                    found.add(attr)
                    try:
                        kwargs[attr] = parse(piece[2:])
                    except ValueError as exc:
                        raise MalformedMessage(
                            str(exc), message_id=self.message_id, field=code, position=position
                        ) from None
            position += len(piece) + 1
        for attr, items in lists.items():
            kwargs[attr] = tuple(items)
            found.add(attr)
        return found

    def _too_short(self, length: int) -> MalformedMessage:
        position = 2
        name = None
        for field in self.fixed:
            if position + field.width > length:
                name = field.attr
                break
            position += field.width
        return MalformedMessage(
            f"frame too short: the fixed part needs {self.fixed_end - 2} characters",
            message_id=self.message_id,
            field=name,
            position=length,
        )

    # -- strict checking --

    def problems(self, text: str, encoding: str) -> list[Problem]:
        """Every deviation from the canonical form; never raises."""
        mid = self.message_id
        found: list[Problem] = []
        for (attr, start, end, _parse), field in zip(self.decode_fixed, self.fixed, strict=True):
            piece = text[start:end]
            if len(piece) < field.width:
                found.append(Problem(mid, attr, start, "frame too short for this fixed field"))
                return found
            reason = field.kind.check(piece)
            if reason is not None:
                found.append(Problem(mid, attr, start, reason))
        rest = text[self.fixed_end :]
        position = self.fixed_end
        if rest and not self.has_variable:
            found.append(Problem(mid, None, position, "unexpected data after the fixed part"))
            return found
        if rest and not rest.endswith("|"):
            found.append(
                Problem(mid, None, len(text), "last variable field is not terminated by |")
            )
        seen: set[str] = set()
        pieces = rest.split("|")
        for index, piece in enumerate(pieces):
            if not piece:
                if index != len(pieces) - 1:
                    found.append(Problem(mid, None, position, "empty field (||)"))
                position += 1
                continue
            code, value = piece[:2], piece[2:]
            if not _is_field_code(code):
                found.append(Problem(mid, code, position, "malformed field code"))
            elif code in ("AY", "AZ"):
                found.append(
                    Problem(mid, code, position, "error-detection field outside the trailer")
                )
            spec = self.var_by_code.get(code)
            if spec is not None:
                attr, _parse, repeatable, kind = spec
                if code in seen and not repeatable:
                    found.append(Problem(mid, code, position, "field repeated (first kept)"))
                seen.add(code)
                reason = kind.check(value)
                if reason is not None:
                    found.append(Problem(mid, code, position, reason))
            if len(value.encode(encoding, "replace")) > charset.MAX_VALUE_BYTES:
                found.append(Problem(mid, code, position, "value longer than 255 bytes"))
            position += len(piece) + 1
        for code, _attr in self.required:
            if code not in seen:
                found.append(Problem(mid, code, len(text), "required field missing"))
        for code, _attr, _empty in self.lenient:
            if code not in seen:
                found.append(Problem(mid, code, len(text), "required field missing"))
        return found

    # -- encoding --

    def encode(self, message: Message, encoding: str, single_byte: bool, ascii_only: bool) -> str:
        parts = [self.message_id]
        append = parts.append
        for attr, format_, width, needs_fit in self.encode_fixed:
            value = format_(getattr(message, attr))
            if needs_fit:
                value = charset.fit_fixed(value, width)
            append(value)
        fit = charset.fit_value
        for code, attr, format_, is_text, repeatable in self.encode_var:
            value = getattr(message, attr)
            if repeatable:
                for item in value:
                    append(code)
                    append(fit(item, encoding, single_byte, ascii_only))
                    append("|")
            elif value is not None:
                append(code)
                if is_text:
                    append(fit(value, encoding, single_byte, ascii_only))
                else:
                    append(format_(value))
                append("|")
        for code, value in message.extra:
            append(fit(code, encoding, single_byte, ascii_only))
            append(fit(value, encoding, single_byte, ascii_only))
            append("|")
        return "".join(parts)


def _is_field_code(code: str) -> bool:
    return len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


_PLANS_BY_ID: dict[bytes, _Plan] = {
    cls.MESSAGE_ID.encode("ascii"): _Plan(cls) for cls in MESSAGE_CLASSES
}
_PLANS_BY_CLASS: dict[type[Message], _Plan] = {plan.cls: plan for plan in _PLANS_BY_ID.values()}

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
    if len(frame) < 2:
        raise MalformedMessage("frame too short for a message id", position=len(frame))
    body, trailer = split_trailer(frame)
    if trailer is not None and (sum(frame[:-4]) + int(frame[-4:], 16)) & 0xFFFF:
        raise ChecksumError(
            "checksum does not verify",
            message_id=peek_message_id(frame),
            field="AZ",
            position=len(frame) - 6,
        )
    plan = _PLANS_BY_ID.get(body[:2])
    if plan is None:
        raise UnknownMessage("unknown message id", message_id=peek_message_id(frame), position=0)
    if b"\x00" in body:
        raise MalformedMessage(
            "NUL byte in frame", message_id=plan.message_id, position=body.index(b"\x00")
        )
    text, fell_back = charset.decode_bytes(body, encoding)
    if not strict:
        return Received(plan.decode(text), trailer, frame)
    try:
        received: Received | None = Received(plan.decode(text), trailer, frame)
        fatal: list[Problem] = []
    except MalformedMessage as exc:
        received = None
        fatal = list(exc.problems)
    problems = plan.problems(text, encoding)
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
    plan = _PLANS_BY_CLASS.get(type(message))
    if plan is None:
        raise TypeError(f"not a SIP2 message: {type(message).__name__}")
    single_byte, ascii_only = _encoding_traits(encoding)
    data = plan.encode(message, encoding, single_byte, ascii_only).encode(encoding, "replace")
    if checksum:
        if plan.message_id in _NO_SEQUENCE_IDS:
            sequence = None
        data += trailer_bytes(data, sequence)
    return data + terminator
