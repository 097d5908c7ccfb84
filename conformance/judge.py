"""Judging frames: read them leniently for meaning, strictly for form, and sort the problems.

Two readings of every frame, on purpose:
- :func:`read` decodes a response the way a tolerant kiosk would (sip2d's lenient decoder,
  trailer ignored), so a check about *meaning* (was the patron recognised? was the item
  refused?) is not failed by a format slip that another check reports;
- :func:`format_problems` runs the codec's strict validation on the frame body (the trailer is
  judged by the error-detection checks instead) and sorts every :class:`Problem` into the rule
  it breaks (:data:`RULES`), so a lowercase flag fails the flag rule and nothing else.

Field order is judged here too (the codec accepts any order, as receivers must): known fields
must appear in the order of the reference's tables, extension fields are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from conformance.model import CheckFailed
from conformance.wire import Frame
from sip2d.protocol import (
    MESSAGE_TYPES,
    Message,
    ProtocolError,
    Received,
    decode,
    validate,
)
from sip2d.protocol.trailer import split_trailer

# Rule ids of the run-wide format checks, and the title each is reported under.
FIXED_LENGTH = "FD-01"
REQUIRED = "FD-02"
FLAGS = "FD-03"
DATES = "FD-04"
NUMBERS = "FD-05"
DELIMITERS = "FD-06"
FIELD_SYNTAX = "FD-07"
VALUES = "FD-08"
VALUE_FORMS = "FD-11"
LEAKED = "FD-12"

# Variable fields whose value has a form of its own (reference sections 4.4, 5.6, 5.8, 6): the
# codec reads them as text, so their form is judged here. Empty values are allowed (a field
# sent empty says "none", as for every variable field).
FORMS: dict[str, tuple[re.Pattern[str], str]] = {
    "BH": (re.compile(r"[A-Z]{3}"), "a currency must be 3 letters (ISO 4217)"),
    "BV": (re.compile(r"-?[0-9]+(\.[0-9]+)?"), "an amount must be a decimal number like 2.50"),
    "CC": (re.compile(r"-?[0-9]+(\.[0-9]+)?"), "an amount must be a decimal number like 2.50"),
    "CK": (re.compile(r"[0-9]{3}"), "a media type must be 3 digits"),
    "BT": (re.compile(r"[0-9]{2}"), "a fee type must be 2 digits"),
}
# What a program's internal representation looks like when it is printed instead of the value
# it holds: Perl references (ARRAY(0x...), Foo=HASH(0x...)), Python reprs (<Foo object at
# 0x...>), JavaScript's [object Object] and Java's default toString (pkg.Class@1a2b3c).
_LEAK = re.compile(
    r"\b(?:ARRAY|HASH|CODE|SCALAR|REF|GLOB)\(0x[0-9a-fA-F]+\)"
    r"|<[\w.]+ object at 0x[0-9a-fA-F]+>"
    r"|\[object Object\]"
    r"|\b(?:[a-z_]\w*\.)+[A-Z]\w*@[0-9a-f]{4,8}\b"
)

# Extension fields (reference section 8) that the codec's tables carry: not in the 2.00 spec, so
# their position says nothing about spec order.
EXTENSIONS: dict[str, frozenset[str]] = {
    "10": frozenset({"CR", "CS", "CT", "CY", "DA", "CV"}),
    "18": frozenset({"CS", "CT"}),
}
_FIELD = re.compile(r"^[A-Z]{2}$")


def rule_of(reason: str) -> str:
    """The format rule a strict-validation reason belongs to."""
    text = reason.lower()
    if "required field missing" in text:
        return REQUIRED
    if "too short" in text or "fixed part" in text:
        return FIXED_LENGTH
    if "flag must be" in text or "y or space" in text or "bx " in text or "summary" in text:
        return FLAGS
    if "date" in text or "time-zone" in text:
        return DATES
    if "digits" in text or "count must" in text:
        return NUMBERS
    if "terminated by |" in text or "empty field" in text:
        return DELIMITERS
    if "255 bytes" in text or "not valid" in text or "nul byte" in text:
        return VALUES
    return FIELD_SYNTAX


def body_of(frame: Frame) -> bytes:
    """The frame without its error-detection trailer (anchored at the end)."""
    body, _trailer = split_trailer(frame.body)
    return body


def read(frame: Frame, encoding: str) -> Received | None:
    """Decode leniently without verifying the checksum; ``None`` when it cannot be decoded."""
    try:
        return decode(body_of(frame), encoding)
    except ProtocolError:
        return None


def format_problems(frame: Frame, encoding: str) -> list[tuple[str, str]]:
    """(rule, description) for everything strict validation finds in the frame body."""
    found: list[tuple[str, str]] = []
    body = body_of(frame)
    for problem in validate(body, encoding):
        if problem.reason == "unknown message id":
            found.append((FIELD_SYNTAX, f"unknown message id {body[:2]!r}"))
            continue
        found.append((rule_of(problem.reason), str(problem)))
    found.extend(value_problems(frame, encoding))
    return found


def field_values(frame: Frame, encoding: str) -> list[tuple[str, str]]:
    """(code, value) of every variable field, in wire order (empty when the id is unknown)."""
    cls = MESSAGE_TYPES.get(frame.message_id)
    if cls is None:
        return []
    text = body_of(frame).decode(encoding, "replace")
    rest = text[2 + cls.LAYOUT.fixed_width :]
    return [(piece[:2], piece[2:]) for piece in rest.split("|") if len(piece) >= 2]


def value_problems(frame: Frame, encoding: str) -> list[tuple[str, str]]:
    """(rule, description) for values that are not of their field's form (FD-11) or are a
    program's internal representation printed by mistake (FD-12)."""
    found: list[tuple[str, str]] = []
    for code, value in field_values(frame, encoding):
        form = FORMS.get(code)
        if form is not None and value and not form[0].fullmatch(value):
            found.append((VALUE_FORMS, f"{code} {value!r}: {form[1]}"))
        leak = _LEAK.search(value)
        if leak is not None:
            found.append((LEAKED, f"{code} {value!r}: {leak.group(0)} is a program's "
                                  "internal representation, not a value"))  # fmt: skip
    return found


def variable_codes(frame: Frame, encoding: str) -> list[str]:
    """Field codes of the variable part, in wire order (empty when the id is unknown)."""
    cls = MESSAGE_TYPES.get(frame.message_id)
    if cls is None:
        return []
    text = body_of(frame).decode(encoding, "replace")
    rest = text[2 + cls.LAYOUT.fixed_width :]
    return [piece[:2] for piece in rest.split("|") if len(piece) >= 2]


def order_problem(frame: Frame, encoding: str) -> str | None:
    """Why the known variable fields are not in spec order, or ``None`` when they are."""
    cls = MESSAGE_TYPES.get(frame.message_id)
    if cls is None:
        return None
    skip = EXTENSIONS.get(frame.message_id, frozenset())
    index = {v.code: i for i, v in enumerate(cls.LAYOUT.variable) if v.code not in skip}
    last_code, last = None, -1
    for code in variable_codes(frame, encoding):
        position = index.get(code)
        if position is None:
            continue
        if position < last:
            return f"{code} comes after {last_code}; the reference orders {code} first"
        last_code, last = code, position
    return None


def response_class(message_id: str) -> type[Message] | None:
    return MESSAGE_TYPES.get(message_id)


def expect(
    frame: Frame, expected: type[Message] | Iterable[type[Message]], encoding: str
) -> Message:
    """The decoded message if ``frame`` is one of ``expected``; else :class:`CheckFailed`."""
    wanted = (expected,) if isinstance(expected, type) else tuple(expected)
    ids = [cls.MESSAGE_ID for cls in wanted]
    if frame.message_id not in ids:
        raise CheckFailed(f"expected a {' or '.join(ids)} response, got {frame.message_id!r}")
    received = read(frame, encoding)
    if received is None:
        try:
            decode(body_of(frame), encoding)
        except ProtocolError as exc:
            raise CheckFailed(f"the {frame.message_id} response cannot be decoded: {exc}") from None
        raise CheckFailed(f"the {frame.message_id} response cannot be decoded")
    return received.message


def is_field_code(code: str) -> bool:
    return bool(_FIELD.match(code))
