"""Judging a response frame in a few byte comparisons: ok, refused, or an error.

The generator must not spend more CPU per message than the server it measures, so it never
decodes a response. It checks what a kiosk's screen would depend on and nothing else: that
the frame is the response to the request just sent (its two-digit id), and for that id the one
flag that says yes or no (``ok`` of 94/12/10, ``online``/``end session`` of 98/36, ``BL``
valid patron and, when a PIN was sent, ``CQ`` valid PIN in 24/64). A 96 means the server
could not read our frame; any other id means the connection is out of step.

Frames come from the network, so every function here accepts any bytes and never raises.
"""

from __future__ import annotations

import enum
from typing import Final

OK: Final = "ok"
REFUSED: Final = "refused"
# Error kinds a response can produce; transport errors are named by the kiosk task.
RESEND_REQUESTED: Final = "resend_requested"
WRONG_RESPONSE: Final = "wrong_response"
TRUNCATED: Final = "truncated_response"

# Length of the fixed part (id included) before the first variable field.
_PATRON_STATUS_FIXED: Final = 2 + 14 + 3 + 18
_PATRON_INFO_FIXED: Final = _PATRON_STATUS_FIXED + 6 * 4


class Rule(enum.IntEnum):
    """Which flag decides between ok and refused."""

    ANSWERED = 0  # the right id is enough
    FLAG_1 = 1  # first fixed field "1" (94 login, 12 checkout, 10 checkin)
    FLAG_Y = 2  # first fixed field "Y" (98 online, 36 end session)
    PATRON = 3  # BL Y (24, 64)
    PATRON_PIN = 4  # BL Y and CQ Y (24, 64 after a PIN)


def field_flag(frame: bytes, start: int, code: bytes) -> int | None:
    """The first byte of variable field ``code`` at or after ``start``, or None if absent."""
    if frame.startswith(code, start):
        position = start + 2
    else:
        found = frame.find(b"|" + code, start)
        if found < 0:
            return None
        position = found + 3
    return frame[position] if position < len(frame) else None


def _fixed_start(response_id: bytes) -> int:
    return _PATRON_INFO_FIXED if response_id == b"64" else _PATRON_STATUS_FIXED


def classify(frame: bytes, response_id: bytes, rule: Rule) -> str:
    """``OK``, ``REFUSED`` or an error kind for ``frame`` (without its terminator)."""
    if frame[:2] != response_id:
        if frame[:2] == b"96":
            return RESEND_REQUESTED
        return WRONG_RESPONSE
    if rule is Rule.ANSWERED:
        return OK
    if rule is Rule.FLAG_1 or rule is Rule.FLAG_Y:
        if len(frame) < 3:
            return TRUNCATED
        return OK if frame[2] == (49 if rule is Rule.FLAG_1 else 89) else REFUSED  # "1" / "Y"
    start = _fixed_start(response_id)
    if len(frame) < start:
        return TRUNCATED
    if field_flag(frame, start, b"BL") != 89:
        return REFUSED
    if rule is Rule.PATRON_PIN and field_flag(frame, start, b"CQ") != 89:
        return REFUSED
    return OK
