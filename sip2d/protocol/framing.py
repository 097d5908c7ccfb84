"""Splitting a TCP byte stream into SIP2 frames.

A kiosk may deliver one message in several segments, several messages in one segment, CR LF
instead of CR, or a bare LF (reference 2.2, pitfalls P1 and P36). :class:`FrameBuffer` is fed
whatever arrived and hands back complete frames, without their terminator, one at a time.

Choices and their reasons:
- CR, LF and CR LF all end a frame. A value can never contain CR or LF (reference 2.3), so
  treating LF as a terminator costs nothing and means the LF of a CR LF pair simply produces an
  empty frame, which is skipped. Nothing is ever carried over into the next frame.
- Leading control bytes (below 0x20, e.g. a stray NUL or LF) are stripped from each frame and empty
  frames are skipped, as Koha and Evergreen do.
- Work is O(bytes received) whatever the chunking, so a hostile or trickling peer cannot make the
  server quadratic: ``_scanned`` remembers how far the unterminated tail has already been searched,
  so feeding a 16 KiB frame one byte at a time searches each byte once; consumed frames are cut from
  the front of a ``bytearray``, which CPython does without moving the remainder.
- Memory is bounded by ``max_frame_bytes`` plus one chunk: once an unterminated frame exceeds the
  limit its bytes are dropped, :class:`FrameTooLong` is raised once, and everything up to the next
  terminator is discarded. The caller may then close the connection or carry on.
"""

from __future__ import annotations

import re

from sip2d.protocol.errors import FrameTooLong

DEFAULT_MAX_FRAME_BYTES = 16 * 1024
CR = b"\r"
CRLF = b"\r\n"

_TERMINATOR = re.compile(rb"[\r\n]")
_LEADING_CONTROL = bytes(range(0x20))


class FrameBuffer:
    """Receive buffer: ``feed`` it bytes, then call ``next_frame`` until it returns ``None``."""

    __slots__ = ("_buffer", "_discarding", "_max", "_scanned")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self._max = max_frame_bytes
        self._buffer = bytearray()
        self._scanned = 0  # bytes at the start of _buffer known to contain no terminator
        self._discarding = False  # inside an over-long frame, dropping bytes up to a terminator

    @property
    def max_frame_bytes(self) -> int:
        return self._max

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a frame.

        After ``next_frame`` has returned ``None`` this is the size of the incomplete frame, which
        lets the server time out a client that trickles a frame and never finishes it.
        """
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Add received bytes. Cheap: all the searching happens in ``next_frame``."""
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """The next complete frame without its terminator, or ``None`` if none is complete yet.

        Raises :class:`FrameTooLong` (once per over-long frame) when a frame exceeds the maximum.
        """
        buffer = self._buffer
        while True:
            match = _TERMINATOR.search(buffer, self._scanned)
            if match is None:
                if self._discarding:
                    buffer.clear()
                    self._scanned = 0
                    return None
                self._scanned = len(buffer)
                if len(buffer) > self._max:
                    size = len(buffer)
                    buffer.clear()
                    self._scanned = 0
                    self._discarding = True
                    raise FrameTooLong(
                        f"frame exceeds {self._max} bytes without a terminator",
                        position=size,
                    )
                return None
            end = match.start()
            frame = bytes(buffer[:end]).lstrip(_LEADING_CONTROL)
            del buffer[: end + 1]
            self._scanned = 0
            if self._discarding:
                self._discarding = False
                continue
            if len(frame) > self._max:
                raise FrameTooLong(f"frame of {len(frame)} bytes exceeds {self._max}")
            if frame:
                return frame
