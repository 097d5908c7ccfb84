"""Error detection and retry rules for one connection, with no I/O (reference section 3).

The connection task feeds each received frame to :meth:`Exchange.receive`, which decides,
before anything is executed, whether the frame is:

* a checksum failure: answer ``96`` and execute nothing (3.4);
* a ``97`` request: resend the last response byte for byte, or ``96`` when there is none
  (P18); a 97 never replaces the stored response;
* a retransmission of the previous request (same sequence number and same checksum, P19):
  resend the stored response, so a kiosk that retries a checkout after a timeout does not
  create a second loan or a second payment; except a 99, which is always answered afresh (its
  98 carries the clock and the on-line flag, and answering it twice changes nothing);
* malformed or of an unknown id: a refusal or ``96``, counted toward closing the connection
  after several in a row (9.4) so a device that keeps sending garbage cannot loop forever;
* otherwise a request to execute; the caller runs it and passes the response message to
  :meth:`Exchange.respond`, which encodes it with the trailer mirroring the request (3.5).

Keeping this free of sockets makes each rule a list of frames in and bytes out in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from sip2d.protocol import (
    ChecksumError,
    Message,
    ProtocolError,
    Received,
    RequestACSResend,
    RequestSCResend,
    SCStatus,
    UnknownMessage,
    decode,
    encode,
    encode_body,
    finish_frame,
    peek_message_id,
    reply_trailer,
)


@dataclass(frozen=True)
class Send:
    """Bytes to write now (a resend, a 96, or a stored response)."""

    data: bytes
    reason: str
    close: bool = False


@dataclass(frozen=True)
class Execute:
    """A valid new request: run it, then call :meth:`Exchange.respond`."""

    received: Received


@dataclass(frozen=True)
class Refuse:
    """A frame whose id is known but whose content is malformed: answer in refusal form."""

    message_id: str
    error: ProtocolError
    checksummed: bool
    sequence: int | None
    close: bool = False


Action = Send | Execute | Refuse


def _trailer_of(frame: bytes) -> tuple[bool, int | None]:
    """Whether a frame carries ``AZxxxx`` and, if so, its ``AY`` digit (anchored at the end)."""
    if len(frame) >= 6 and frame[-6:-4] in (b"AZ", b"az"):
        if len(frame) >= 9 and frame[-9:-7] in (b"AY", b"ay") and frame[-7:-6].isdigit():
            return True, int(frame[-7:-6])
        return True, None
    return False, None


class Exchange:
    """Per-connection error-detection state: last response, last request, error streak."""

    def __init__(
        self,
        *,
        encoding: str = "utf-8",
        mode: str = "auto",
        terminator: bytes = b"\r",
        max_consecutive_errors: int = 3,
    ) -> None:
        self.encoding = encoding
        self.mode = mode
        self.terminator = terminator
        self.max_consecutive_errors = max_consecutive_errors
        self.last_response: bytes | None = None
        self._last_request: tuple[int | None, str] | None = None
        self._last_checksummed = False
        self.consecutive_errors = 0
        # The last response message encoded and its bytes before the trailer. A dispatcher
        # that answers with the very same (immutable) message object again, as it does for
        # the 98 within one second, costs only a new trailer (see :meth:`respond`).
        self._encoded: tuple[Message, bytes] | None = None

    def configure(self, *, encoding: str, mode: str, terminator: bytes) -> None:
        """Apply the wire settings of the account that just logged in."""
        self.encoding = encoding
        self.mode = mode
        self.terminator = terminator
        self._encoded = None  # encoded with the previous encoding

    def resend_request(self, checksummed: bool | None = None) -> bytes:
        """A 96 in the form of the connection's error-detection mode."""
        with_checksum = self._last_checksummed if checksummed is None else checksummed
        if self.mode == "off":
            with_checksum = False
        elif self.mode == "required":
            with_checksum = True
        return encode(
            RequestSCResend(), self.encoding, checksum=with_checksum, terminator=self.terminator
        )

    def _error(self, data: bytes, reason: str) -> Send:
        self.consecutive_errors += 1
        return Send(data, reason, close=self.consecutive_errors >= self.max_consecutive_errors)

    def receive(self, frame: bytes) -> Action:
        try:
            received = decode(frame, self.encoding)
        except ChecksumError:
            self._last_checksummed = True
            return self._error(self.resend_request(True), "bad checksum")
        except ProtocolError as exc:
            return self._refuse(frame, exc)
        trailer = received.trailer
        if trailer is None:
            # No trailer the decoder accepts; a lower-case "az" still counts as an attempt.
            self._last_checksummed = _trailer_of(frame)[0]
            if self.mode == "required" and not self._last_checksummed:
                return self._error(self.resend_request(True), "checksum required")
        else:
            self._last_checksummed = True
        if isinstance(received.message, RequestACSResend):
            if self.last_response is None:
                return Send(self.resend_request(), "97 before any response")
            return Send(self.last_response, "97 resend")
        # A 99 is never a retransmission to answer from memory: a kiosk that never increments
        # AY would be shown a frozen clock and on-line flag. Answering it again changes nothing.
        if (
            trailer is not None
            and trailer.sequence is not None
            and not isinstance(received.message, SCStatus)
        ):
            key = (trailer.sequence, trailer.checksum.upper())
            if key == self._last_request and self.last_response is not None:
                return Send(self.last_response, "duplicate request")
        return Execute(received)

    def _refuse(self, frame: bytes, exc: ProtocolError) -> Action:
        """A frame that did not decode; only here is its trailer looked for on its own."""
        checksummed, sequence = _trailer_of(frame)
        self._last_checksummed = checksummed
        if self.mode == "required" and not checksummed:
            return self._error(self.resend_request(True), "checksum required")
        if isinstance(exc, UnknownMessage):
            return self._error(self.resend_request(), "unknown message id")
        message_id = peek_message_id(frame)
        self.consecutive_errors += 1
        close = self.consecutive_errors >= self.max_consecutive_errors
        if message_id is None or message_id in ("97", "96"):
            return Send(self.resend_request(), f"malformed: {exc}", close=close)
        return Refuse(message_id, exc, checksummed, sequence, close=close)

    def respond(self, received: Received | None, message: Message, *, store: bool = True) -> bytes:
        """Encode the response to ``received`` with the mirrored trailer and remember it.

        The body of the last message encoded is reused when ``message`` is that same object:
        messages are frozen, so the same object always encodes to the same bytes.
        """
        trailer = received.trailer if received is not None else None
        sequence, checksum = reply_trailer(trailer, self.mode)
        encoded = self._encoded
        if encoded is not None and encoded[0] is message:
            body = encoded[1]
        else:
            body = encode_body(message, self.encoding)
            self._encoded = (message, body)
        data = finish_frame(body, sequence=sequence, checksum=checksum, terminator=self.terminator)
        if store:
            self.last_response = data
            if trailer is not None and trailer.sequence is not None:
                self._last_request = (trailer.sequence, trailer.checksum.upper())
            else:
                self._last_request = None
            self.consecutive_errors = 0
        return data

    def refusal(self, refuse: Refuse, message: Message) -> bytes:
        """Encode a refusal for a malformed frame, mirroring what trailer it had."""
        if not refuse.checksummed or self.mode == "off":
            sequence, checksum = None, self.mode == "required"
        else:
            sequence, checksum = refuse.sequence, True
        data = encode(
            message, self.encoding, sequence=sequence, checksum=checksum, terminator=self.terminator
        )
        self.last_response = data
        self._last_request = None
        return data
