"""Bounded, recorded SIP2 I/O for the checks: raw bytes out, frames with their terminators in.

Why not :class:`sip2d.client.SipClient`: a kiosk client rightly hides what a conformance suite
must see. The suite has to send deliberately broken bytes (bad checksums, CR LF, split and
pipelined frames) and to see exactly how each response ended (CR, CR LF, a stray LF before the
next frame), so this module keeps every received frame's leading junk and terminator. It uses
the same codec (:func:`sip2d.protocol.encode`) for everything well-formed it sends.

Every wait is a trio cancel scope bounded by the profile's timeout: a server that never answers
fails the check with "no response within N s" and the suite moves on. Every byte sent and
received is recorded in the check's transcript (secrets are masked only when shown), and each
response is paired with the request it answers (FIFO per connection, as SIP2 is strictly
request/response) so the format checks can later judge every exchange of the run.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import ssl

import trio

from conformance.model import CheckFailed, TranscriptEntry
from sip2d.protocol import Message, compute_checksum, encode

MAX_RESPONSE_BYTES = 1 << 20
_TERMINATOR = re.compile(rb"[\r\n]")
_CONTROL = bytes(range(0x20))


class WireError(CheckFailed):
    """The server did not answer properly at the transport level."""


class NoResponse(WireError):
    """Nothing (or no complete frame) arrived before the timeout."""


class Closed(WireError):
    """The server closed the connection."""


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """Where the system under test listens."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None

    def __str__(self) -> str:
        scheme = "sip2+tls" if self.tls else "sip2"
        return f"{scheme}://{self.host}:{self.port}"


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    """A received frame: ``body`` without ``leading`` control bytes and without ``terminator``."""

    body: bytes
    terminator: bytes
    leading: bytes = b""

    @property
    def raw(self) -> bytes:
        return self.leading + self.body + self.terminator

    @property
    def message_id(self) -> str:
        return self.body[:2].decode("ascii", "replace")


@dataclasses.dataclass(frozen=True, slots=True)
class Exchange:
    """A response and the request it answered, for the run-wide format checks."""

    check_id: str
    connection: int
    request: bytes | None
    response: Frame
    # False when the check sent something on purpose for which trailer mirroring cannot be
    # judged (a 97, a bad checksum, an empty line): the response is still format-checked.
    judge_trailer: bool


class Recorder:
    """One check's transcript and exchanges; hands out connection numbers."""

    def __init__(self, check_id: str) -> None:
        self.check_id = check_id
        self.transcript: list[TranscriptEntry] = []
        self.exchanges: list[Exchange] = []
        # Requests the server left unanswered (closed, silent), oldest first; None for a
        # connection that could not be opened. The runner reads them to find root causes and
        # to notice a server that stopped answering.
        self.unanswered: list[bytes | None] = []
        self.connected = 0
        self._connections = 0
        self._started = trio.current_time()

    def next_connection(self) -> int:
        self._connections += 1
        return self._connections

    def record(self, connection: int, direction: str, data: bytes) -> None:
        at = round(trio.current_time() - self._started, 3)
        self.transcript.append(TranscriptEntry(connection, direction, data, at))

    def event(self, connection: int, text: str) -> None:
        self.record(connection, "event", text.encode("utf-8"))


def split_frames(data: bytes) -> list[bytes]:
    """The non-empty frames in ``data`` (for pairing requests with responses)."""
    return [piece.lstrip(_CONTROL) for piece in _TERMINATOR.split(data) if piece.strip(_CONTROL)]


class FrameSplitter:
    """Bytes in, :class:`Frame` out, keeping each frame's terminator and any junk before it.

    CR, LF and CR LF all end a frame (like sip2d's FrameBuffer) so a server or kiosk that ends
    frames wrongly is still read, and the way it ended them stays visible: an LF that arrives
    after a CR, in the same segment or a later one, is kept as the next frame's ``leading``.
    Empty lines are not frames; their bytes are kept as ``leading`` too.
    """

    def __init__(self, limit: int = MAX_RESPONSE_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._leading = b""

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes | bytearray) -> None:
        self._buffer += data

    def next_frame(self) -> Frame | None:
        buffer = self._buffer
        while True:
            match = _TERMINATOR.search(buffer)
            if match is None:
                if len(buffer) > self.limit:
                    buffer.clear()
                    raise WireError(f"more than {self.limit} bytes arrived without a terminator")
                return None
            end = match.start()
            segment = bytes(buffer[:end])
            body = segment.lstrip(_CONTROL)
            prefix = segment[: len(segment) - len(body)]
            terminator = bytes(buffer[end : end + 1])
            consumed = end + 1
            if terminator == b"\r" and buffer[end + 1 : end + 2] == b"\n":
                terminator = b"\r\n"
                consumed += 1
            del buffer[:consumed]
            if not body:
                self._leading += prefix + terminator
                continue
            frame = Frame(body, terminator, self._leading + prefix)
            self._leading = b""
            return frame


class Wire:
    """One connection to the system under test, as the suite's kiosk."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        recorder: Recorder,
        *,
        encoding: str,
        timeout: float,
        checksums: bool,
    ) -> None:
        self.stream = stream
        self.recorder = recorder
        self.number = recorder.next_connection()
        self.encoding = encoding
        self.timeout = timeout
        self.checksums = checksums
        self.sequence = 0
        self.closed = False
        self._frames = FrameSplitter()
        self._pending: collections.deque[tuple[bytes, bool]] = collections.deque()

    # --- sending ----------------------------------------------------------------------------

    def encode(
        self,
        message: Message,
        *,
        trailer: bool | None = None,
        sequence: int | None = None,
        terminator: bytes = b"\r",
    ) -> bytes:
        """Encode ``message``; with a trailer unless told otherwise (or ED is off).

        The sequence number advances like a kiosk's, wrapping 9 -> 0, unless ``sequence`` is
        given (a retransmission reuses its request's number).
        """
        with_trailer = self.checksums if trailer is None else trailer
        if not with_trailer:
            return encode(message, self.encoding, terminator=terminator)
        if sequence is None:
            sequence = self.sequence
            self.sequence = (self.sequence + 1) % 10
        return encode(
            message, self.encoding, sequence=sequence, checksum=True, terminator=terminator
        )

    def body(self, message: Message) -> bytes:
        """The encoded message without trailer or terminator, for checks that tamper with it."""
        return encode(message, self.encoding, terminator=b"")

    def seal(
        self,
        body: bytes,
        *,
        trailer: bool | None = None,
        sequence: int | None = None,
        terminator: bytes = b"\r",
    ) -> bytes:
        """``body`` with an ``AY<n>AZxxxx`` trailer (as :meth:`encode` would add) and terminator."""
        with_trailer = self.checksums if trailer is None else trailer
        if not with_trailer:
            return body + terminator
        if sequence is None:
            sequence = self.sequence
            self.sequence = (self.sequence + 1) % 10
        prefix = body + b"AY%dAZ" % sequence
        return prefix + compute_checksum(prefix).encode("ascii") + terminator

    async def send(self, data: bytes, *, judge: bool = True) -> None:
        """Send raw bytes; every frame in them is expected to get one response."""
        self.recorder.record(self.number, "sent", data)
        for frame in split_frames(data):
            self._pending.append((frame, judge))
        try:
            with trio.fail_after(self.timeout):
                await self.stream.send_all(data)
        except trio.TooSlowError:
            self.recorder.event(self.number, "send blocked: the server is not reading")
            raise NoResponse(
                f"the server stopped reading (send blocked {self.timeout:g} s)"
            ) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            self.closed = True
            self.recorder.event(self.number, "connection closed by the server (while sending)")
            self._unanswered()
            raise Closed("the server closed the connection") from None

    async def send_more(self, data: bytes) -> None:
        """Send the continuation of a frame already sent in part (no new response expected)."""
        self.recorder.record(self.number, "sent", data)
        try:
            with trio.fail_after(self.timeout):
                await self.stream.send_all(data)
        except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            self.closed = True
            raise Closed("the server closed the connection (or stopped reading)") from None

    async def request(self, message: Message, **options: object) -> Frame:
        """Send ``message`` (see :meth:`encode` for options) and return the next frame."""
        judge = bool(options.pop("judge", True))
        await self.send(self.encode(message, **options), judge=judge)  # type: ignore[arg-type]
        return await self.receive()

    # --- receiving --------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> Frame:
        """The next frame, or :class:`NoResponse` / :class:`Closed`."""
        limit = self.timeout if timeout is None else timeout
        with trio.move_on_after(limit):
            while True:
                frame = self._frames.next_frame()
                if frame is not None:
                    self._received(frame)
                    return frame
                if self.closed:
                    break
                try:
                    data = await self.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    data = b""
                if not data:
                    self.closed = True
                    break
                self._frames.feed(data)
        if self.closed:
            self.recorder.event(self.number, "connection closed by the server")
            self._unanswered()
            raise Closed("the server closed the connection instead of answering")
        self.recorder.event(self.number, f"no response within {limit:g} s")
        self._unanswered()
        raise NoResponse(f"no response within {limit:g} s")

    def _unanswered(self) -> None:
        if self._pending:
            self.recorder.unanswered.append(self._pending[0][0])

    def _received(self, frame: Frame) -> None:
        self.recorder.record(self.number, "received", frame.raw)
        request, judge = self._pending.popleft() if self._pending else (None, False)
        self.recorder.exchanges.append(
            Exchange(self.recorder.check_id, self.number, request, frame, judge)
        )

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Whether the server closes the connection within ``timeout`` (frames are recorded)."""
        try:
            while True:
                await self.receive(timeout)
        except Closed:
            return True
        except NoResponse:
            return False

    async def aclose(self) -> None:
        with trio.move_on_after(1):
            await self.stream.aclose()


async def connect(
    target: Target, recorder: Recorder, *, encoding: str, timeout: float, checksums: bool
) -> Wire:
    """Open a TCP (or TLS) connection to ``target``, bounded by ``timeout``."""
    try:
        return await _connect(
            target, recorder, encoding=encoding, timeout=timeout, checksums=checksums
        )
    except WireError:
        recorder.unanswered.append(None)
        raise


async def _connect(
    target: Target, recorder: Recorder, *, encoding: str, timeout: float, checksums: bool
) -> Wire:
    try:
        with trio.fail_after(timeout):
            stream: trio.abc.Stream = await trio.open_tcp_stream(target.host, target.port)
            if target.tls is not None:
                tls = trio.SSLStream(stream, target.tls, server_hostname=target.host)
                try:
                    await tls.do_handshake()
                except BaseException:
                    await trio.aclose_forcefully(stream)
                    raise
                stream = tls
    except trio.TooSlowError:
        raise NoResponse(
            f"cannot connect to {target.host}:{target.port} within {timeout:g} s"
        ) from None
    except (OSError, trio.BrokenResourceError, ssl.SSLError) as exc:
        reason = exc.__cause__ or exc  # trio wraps a failed TLS handshake's SSLError
        raise WireError(f"cannot connect to {target.host}:{target.port}: {reason}") from None
    recorder.connected += 1
    return Wire(stream, recorder, encoding=encoding, timeout=timeout, checksums=checksums)
