"""Byte-level surgery on SIP2 frames for the fault-injecting proxy.

Each helper takes a whole frame (leading junk, body, trailer, terminator) and returns a whole
frame, re-sealing the AY/AZ trailer so that the only defect is the one the test meant to inject.
"""

from __future__ import annotations

import dataclasses

from sip2d.protocol import MESSAGE_TYPES, compute_checksum
from sip2d.protocol.trailer import split_trailer


@dataclasses.dataclass(frozen=True)
class Parts:
    leading: bytes
    body: bytes
    checksummed: bool
    sequence: int | None
    terminator: bytes

    @property
    def message_id(self) -> str:
        return self.body[:2].decode("ascii", "replace")

    def seal(self, body: bytes | None = None, *, sequence: int | bool | None = False) -> bytes:
        """Re-assemble, recomputing the checksum (``sequence=False`` keeps the original AY)."""
        body = self.body if body is None else body
        seq = self.sequence if sequence is False else sequence
        if not self.checksummed:
            return self.leading + body + self.terminator
        suffix = b"AZ" if seq is None else b"AY%dAZ" % seq
        prefix = body + suffix
        return self.leading + prefix + compute_checksum(prefix).encode() + self.terminator


def parse(frame: bytes) -> Parts:
    core = frame.rstrip(b"\r\n")
    terminator = frame[len(core) :]
    stripped = core.lstrip(b"\r\n\x00")
    leading = core[: len(core) - len(stripped)]
    body, trailer = split_trailer(stripped)
    return Parts(
        leading,
        body,
        trailer is not None,
        trailer.sequence if trailer is not None else None,
        terminator,
    )


def fixed_width(message_id: str) -> int:
    return 2 + MESSAGE_TYPES[message_id].LAYOUT.fixed_width


def fields(body: bytes) -> list[bytes]:
    """The variable fields of a body (without their ``|``)."""
    start = fixed_width(body[:2].decode())
    return [piece for piece in body[start:].split(b"|") if piece]


def rebuild(body: bytes, pieces: list[bytes]) -> bytes:
    start = fixed_width(body[:2].decode())
    return body[:start] + b"".join(piece + b"|" for piece in pieces)


def field(body: bytes, code: bytes) -> bytes | None:
    for piece in fields(body):
        if piece[:2] == code:
            return piece[2:]
    return None


def replace_field(body: bytes, code: bytes, value: bytes) -> bytes:
    return rebuild(body, [code + value if p[:2] == code else p for p in fields(body)])


def drop_field(body: bytes, code: bytes) -> bytes:
    return rebuild(body, [p for p in fields(body) if p[:2] != code])


def insert_field(body: bytes, code: bytes, value: bytes) -> bytes:
    """Insert ``code`` where the message's layout (spec order) puts it."""
    layout = [v.code.encode() for v in MESSAGE_TYPES[body[:2].decode()].LAYOUT.variable]
    rank = {c: i for i, c in enumerate(layout)}
    mine = rank.get(code, len(layout))
    pieces = fields(body)
    at = len(pieces)
    for i, piece in enumerate(pieces):
        if rank.get(piece[:2], len(layout)) > mine:
            at = i
            break
    return rebuild(body, [*pieces[:at], code + value, *pieces[at:]])


def move_field_last(body: bytes, code: bytes) -> bytes:
    pieces = fields(body)
    moved = [p for p in pieces if p[:2] == code]
    return rebuild(body, [p for p in pieces if p[:2] != code] + moved)


def set_fixed(body: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite fixed-part bytes at ``offset`` (counted after the 2-byte id)."""
    start = 2 + offset
    return body[:start] + value + body[start + len(value) :]
