"""Strict judgement of a frame: every way it departs from the canonical 2.00 form.

The decoder is lenient on purpose (reference section 10), so it cannot also be the judge. This
module is the judge, for ``decode(..., strict=True)`` and :func:`sip2d.protocol.validate`: the
conformance suite uses it to assess other servers' responses, so it collects *every* problem in
a frame (not just the first) and never raises. It is off the hot path and favours clarity.
"""

from __future__ import annotations

from sip2d.protocol.errors import Problem
from sip2d.protocol.layout import OPTIONAL, Layout
from sip2d.protocol.plans import is_field_code


def find_problems(message_id: str, layout: Layout, text: str, encoding: str) -> list[Problem]:
    """Problems in the frame ``text`` (trailer removed) of a message with this layout."""
    found: list[Problem] = []
    start = 2
    for field in layout.fixed:
        piece = text[start : start + field.width]
        if len(piece) < field.width:
            found.append(Problem(message_id, field.attr, start, "frame too short"))
            return found
        reason = field.kind.check(piece)
        if reason is not None:
            found.append(Problem(message_id, field.attr, start, reason))
        start += field.width
    rest = text[start:]
    if rest and not layout.variable:
        found.append(Problem(message_id, None, start, "unexpected data after the fixed part"))
        return found
    if rest and not rest.endswith("|"):
        found.append(
            Problem(message_id, None, len(text), "last variable field is not terminated by |")
        )
    specs = {var.code: var for var in layout.variable}
    seen: set[str] = set()
    pieces = rest.split("|")
    position = start
    for number, piece in enumerate(pieces):
        if not piece:
            if number != len(pieces) - 1:
                found.append(Problem(message_id, None, position, "empty field (||)"))
            position += 1
            continue
        code, value = piece[:2], piece[2:]
        if not is_field_code(code):
            found.append(Problem(message_id, code, position, "malformed field code"))
        elif code in ("AY", "AZ"):
            found.append(
                Problem(message_id, code, position, "error-detection field outside the trailer")
            )
        spec = specs.get(code)
        if spec is not None:
            if code in seen and not spec.repeatable:
                found.append(Problem(message_id, code, position, "field repeated (first kept)"))
            seen.add(code)
            reason = spec.kind.check(value)
            if reason is not None:
                found.append(Problem(message_id, code, position, reason))
        if len(value.encode(encoding, "replace")) > 255:
            found.append(Problem(message_id, code, position, "value longer than 255 bytes"))
        position += len(piece) + 1
    for var in layout.variable:
        if var.need is not OPTIONAL and var.code not in seen:
            found.append(Problem(message_id, var.code, len(text), "required field missing"))
    return found
