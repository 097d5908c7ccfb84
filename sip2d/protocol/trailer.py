"""Error detection: the ``AY<sequence>AZ<checksum>`` trailer (reference section 3).

Why it is done this way:
- The trailer is located by fixed offsets from the END of the frame, never by searching: values
  such as "HAYASHI", "KAZUO" or "PAY AZ" contain the letters AY/AZ (pitfall P7, example E55).
- The checksum is computed and verified over the raw bytes as transmitted, before any text
  decoding, so it is right for every character set (pitfall P5).
- Receivers accept lower-case hex (pitfall P3); senders always write four upper-case digits.
- Whether a response carries a trailer mirrors the request by default (reference 3.5), with an
  override per account; :func:`reply_trailer` is that decision in one place.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")

TrailerMode = Literal["auto", "required", "off"]
_MODE_ALIASES: dict[str, TrailerMode] = {
    "auto": "auto",
    "mirror": "auto",
    "required": "required",
    "always": "required",
    "off": "off",
    "never": "off",
}


class Trailer(NamedTuple):
    """The error-detection trailer of a received frame (immutable).

    ``sequence`` is the AY digit (``None`` when the frame had ``AZ`` only); ``checksum`` is the
    four hex digits as received, upper-cased, so a retransmitted request compares equal. A
    NamedTuple rather than a frozen dataclass because it is built for every checksummed frame and
    costs a third as much to create.
    """

    sequence: int | None
    checksum: str


def compute_checksum(data: bytes) -> str:
    """Checksum of ``data`` (the frame from its message id through ``AZ`` inclusive).

    Two's complement of the 16-bit byte sum, as four upper-case hex digits (reference 3.1).
    """
    return f"{-sum(data) & 0xFFFF:04X}"


def verify_checksum(frame: bytes) -> bool:
    """Whether a frame (without terminator) ends in ``AZ`` + four hex digits that verify."""
    if len(frame) < 6 or frame[-6:-4] != b"AZ" or not _HEX.issuperset(frame[-4:]):
        return False
    return (sum(frame[:-4]) + int(frame[-4:], 16)) & 0xFFFF == 0


def split_trailer(frame: bytes) -> tuple[bytes, Trailer | None]:
    """Split ``frame`` into (body, trailer), the body ending where ``AY``/``AZ`` starts.

    Anchored at the end: ``AZ`` + 4 hex digits must be the last six bytes, and ``AY`` + one digit
    must immediately precede ``AZ`` to count as a sequence number. Does not verify the checksum.
    """
    if len(frame) < 6 or frame[-6:-4] != b"AZ" or not _HEX.issuperset(frame[-4:]):
        return frame, None
    checksum = frame[-4:].decode("ascii").upper()
    if len(frame) >= 9 and frame[-9:-7] == b"AY" and frame[-7] in _DIGITS:
        return frame[:-9], Trailer(frame[-7] - 0x30, checksum)
    return frame[:-6], Trailer(None, checksum)


def trailer_bytes(body: bytes, sequence: int | None) -> bytes:
    """The ``AY<n>AZxxxx`` (or ``AZxxxx``) suffix that makes ``body`` a checksummed frame."""
    if sequence is None:
        suffix = b"AZ"
    else:
        if not 0 <= sequence <= 9:
            raise ValueError(f"sequence number must be a single digit 0-9, got {sequence}")
        suffix = b"AY%dAZ" % sequence
    return suffix + compute_checksum_with(body, suffix).encode("ascii")


def compute_checksum_with(body: bytes, suffix: bytes) -> str:
    """Checksum of ``body + suffix`` without building the concatenation."""
    return f"{-(sum(body) + sum(suffix)) & 0xFFFF:04X}"


def reply_trailer(request: Trailer | None, mode: str = "auto") -> tuple[int | None, bool]:
    """(sequence, checksum) to pass to ``encode`` for the response to a request.

    ``"auto"`` mirrors the request (reference 3.5): ``AY<same digit>AZ`` when it had AY, ``AZ``
    only when it had only AZ, nothing when it had nothing. ``"required"`` always adds a checksum
    (with the request's sequence number when it had one); ``"off"`` never does. ``"always"``,
    ``"never"`` and ``"mirror"`` are accepted as aliases.
    """
    resolved = _MODE_ALIASES.get(mode)
    if resolved is None:
        raise ValueError(f"unknown error-detection mode {mode!r}: use auto, required or off")
    if resolved == "off":
        return None, False
    if request is None:
        return None, resolved == "required"
    return request.sequence, True
