"""sans-IO SIP2 2.00: bytes in, typed messages out, and back. No sockets, clocks or databases.

This package is to SIP2 what h11 is to HTTP/1.1: the daemon, the client, the conformance suite and
the benchmark all drive it with whatever I/O they like. Everything here is stable public API:

Framing (:mod:`.framing`)
    ``FrameBuffer(max_frame_bytes=16384)``: ``feed(data)``, ``next_frame() -> bytes | None``,
    ``pending``; raises ``FrameTooLong``. ``CR`` / ``CRLF`` terminator constants.

Decoding and encoding (:mod:`.codec`)
    ``decode(frame, encoding="utf-8", *, strict=False) -> Received`` (``.message``, ``.trailer``,
    ``.raw``); ``encode(message, encoding="utf-8", *, sequence=None, checksum=False,
    terminator=b"\\r") -> bytes``, which is ``finish_frame(encode_body(message, encoding),
    sequence=..., checksum=..., terminator=...)`` (encode a response once, send it with many
    trailers); ``validate(frame, encoding) -> tuple[Problem, ...]``;
    ``peek_message_id(frame) -> str | None``.

Error detection (:mod:`.trailer`)
    ``Trailer(sequence, checksum)``, ``compute_checksum(data)``, ``verify_checksum(frame)``,
    ``reply_trailer(request_trailer, mode="auto") -> (sequence, checksum)``.

Messages (:mod:`.messages`)
    One frozen dataclass per 2.00 message, ``MESSAGE_TYPES`` (id -> class). Value types
    ``PatronStatus``, ``Summary``, ``SupportedMessages`` and ``parse_date`` / ``format_date``
    (:mod:`.values`).

Errors (:mod:`.errors`)
    ``ProtocolError`` (``message_id``, ``field``, ``position``, ``reason``) and its subclasses
    ``FrameTooLong``, ``ChecksumError`` (answer 96), ``UnknownMessage``, ``MalformedMessage``
    (``problems``, ``received``); ``Problem``.

Logging (:mod:`.redact`)
    ``redacted_fields(message) -> dict``: the only form in which a message may be logged.

Typical server loop::

    buffer = FrameBuffer(config.max_frame_bytes)
    buffer.feed(await stream.receive_some())
    while (frame := buffer.next_frame()) is not None:
        try:
            received = decode(frame, account.encoding)
        except ChecksumError:
            await stream.send_all(encode(RequestSCResend(), checksum=True))
            continue
        sequence, checksum = reply_trailer(received.trailer, account.error_detection)
        response = handle(received.message)
        await stream.send_all(encode(response, account.encoding, sequence=sequence,
                                     checksum=checksum))
"""

from sip2d.protocol.charset import SUPPORTED_ENCODINGS
from sip2d.protocol.codec import (
    Received,
    decode,
    encode,
    encode_body,
    finish_frame,
    peek_message_id,
    validate,
)
from sip2d.protocol.errors import (
    ChecksumError,
    FrameTooLong,
    MalformedMessage,
    Problem,
    ProtocolError,
    UnknownMessage,
)
from sip2d.protocol.framing import CR, CRLF, DEFAULT_MAX_FRAME_BYTES, FrameBuffer
from sip2d.protocol.messages import (
    MESSAGE_CLASSES,
    MESSAGE_TYPES,
    ACSStatus,
    BlockPatron,
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    EndPatronSessionRequest,
    EndSessionResponse,
    FeePaidRequest,
    FeePaidResponse,
    HoldRequest,
    HoldResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    ItemStatusUpdateRequest,
    ItemStatusUpdateResponse,
    LoginRequest,
    LoginResponse,
    Message,
    PatronEnableRequest,
    PatronEnableResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    RenewAllRequest,
    RenewAllResponse,
    RenewRequest,
    RenewResponse,
    RequestACSResend,
    RequestSCResend,
    SCStatus,
)
from sip2d.protocol.redact import SECRET_ATTRIBUTES, redacted_fields
from sip2d.protocol.trailer import (
    Trailer,
    TrailerMode,
    compute_checksum,
    reply_trailer,
    verify_checksum,
)
from sip2d.protocol.values import (
    PatronStatus,
    Summary,
    SupportedMessages,
    format_date,
    parse_date,
)

__all__ = [
    "CR",
    "CRLF",
    "DEFAULT_MAX_FRAME_BYTES",
    "MESSAGE_CLASSES",
    "MESSAGE_TYPES",
    "SECRET_ATTRIBUTES",
    "SUPPORTED_ENCODINGS",
    "ACSStatus",
    "BlockPatron",
    "CheckinRequest",
    "CheckinResponse",
    "CheckoutRequest",
    "CheckoutResponse",
    "ChecksumError",
    "EndPatronSessionRequest",
    "EndSessionResponse",
    "FeePaidRequest",
    "FeePaidResponse",
    "FrameBuffer",
    "FrameTooLong",
    "HoldRequest",
    "HoldResponse",
    "ItemInformationRequest",
    "ItemInformationResponse",
    "ItemStatusUpdateRequest",
    "ItemStatusUpdateResponse",
    "LoginRequest",
    "LoginResponse",
    "MalformedMessage",
    "Message",
    "PatronEnableRequest",
    "PatronEnableResponse",
    "PatronInformationRequest",
    "PatronInformationResponse",
    "PatronStatus",
    "PatronStatusRequest",
    "PatronStatusResponse",
    "Problem",
    "ProtocolError",
    "Received",
    "RenewAllRequest",
    "RenewAllResponse",
    "RenewRequest",
    "RenewResponse",
    "RequestACSResend",
    "RequestSCResend",
    "SCStatus",
    "Summary",
    "SupportedMessages",
    "Trailer",
    "TrailerMode",
    "UnknownMessage",
    "compute_checksum",
    "decode",
    "encode",
    "encode_body",
    "finish_frame",
    "format_date",
    "parse_date",
    "peek_message_id",
    "redacted_fields",
    "reply_trailer",
    "validate",
    "verify_checksum",
]
