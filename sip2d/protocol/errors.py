"""The exceptions the SIP2 codec raises, all subclasses of :class:`ProtocolError`.

Why typed errors: a kiosk that sends something broken must still get a valid SIP2 answer (96 for a
bad checksum, the matching response in refusal form for a malformed request), so the caller needs to
know *what kind* of failure it was and *which message* it concerned, without parsing text. Every
error carries ``message_id`` (when the first two bytes were a message id), ``field`` (the wire code
of a variable field such as ``"AA"``, or the attribute name of a fixed field such as
``"transaction_date"``), ``position`` (character offset from the start of the frame) and ``reason``.

Error text never contains field *values*: a frame may carry a PIN or a kiosk password, and these
exceptions end up in logs.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sip2d.protocol.codec import Received


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a frame. Strict decoding collects all of them, not just the first."""

    message_id: str | None
    field: str | None
    position: int | None
    reason: str

    def __str__(self) -> str:
        where = f"message {self.message_id}" if self.message_id else "frame"
        if self.field:
            where += f", field {self.field}"
        if self.position is not None:
            where += f", position {self.position}"
        return f"{where}: {self.reason}"


class ProtocolError(Exception):
    """The peer broke the protocol. Base of every error the codec raises for bad input."""

    def __init__(
        self,
        reason: str,
        *,
        message_id: str | None = None,
        field: str | None = None,
        position: int | None = None,
    ) -> None:
        self.reason = reason
        self.message_id = message_id
        self.field = field
        self.position = position
        super().__init__(str(self.problem))

    @property
    def problem(self) -> Problem:
        return Problem(self.message_id, self.field, self.position, self.reason)


class FrameTooLong(ProtocolError):
    """A frame grew past the configured maximum; its bytes have been discarded."""


class ChecksumError(ProtocolError):
    """The AZ checksum does not verify: answer 96 and execute nothing (reference 3.4)."""


class UnknownMessage(ProtocolError):
    """The first two characters are not a SIP2 2.00 message id this codec knows."""


class MalformedMessage(ProtocolError):
    """A known message whose content cannot be used (or, in strict mode, is not canonical).

    ``problems`` lists everything found (strict mode gathers all of them; lenient decoding stops
    at the first fatal one). ``received`` is the leniently decoded frame when strict mode was the
    only reason for the failure, so a conformance checker can report problems and still look at
    the fields; it is ``None`` when the frame could not be decoded at all.
    """

    def __init__(
        self,
        reason: str,
        *,
        message_id: str | None = None,
        field: str | None = None,
        position: int | None = None,
        problems: tuple[Problem, ...] = (),
        received: Received | None = None,
    ) -> None:
        super().__init__(reason, message_id=message_id, field=field, position=position)
        self.problems: tuple[Problem, ...] = problems or (self.problem,)
        self.received = received

    @classmethod
    def from_problems(
        cls, problems: tuple[Problem, ...], received: Received | None = None
    ) -> MalformedMessage:
        first = problems[0]
        reason = first.reason
        if len(problems) > 1:
            reason += f" (and {len(problems) - 1} more problem(s))"
        return cls(
            reason,
            message_id=first.message_id,
            field=first.field,
            position=first.position,
            problems=problems,
            received=received,
        )
