"""Exchange.respond: a response encoded once is sent with each request's own trailer."""

from __future__ import annotations

from datetime import datetime

from sip2d.protocol import (
    ACSStatus,
    SupportedMessages,
    compute_checksum,
    decode,
    encode,
    verify_checksum,
)
from sip2d.server.exchange import Exchange, Execute


def status(name: str = "Bibliothèque") -> ACSStatus:
    return ACSStatus(
        online_status=True,
        checkin_ok=True,
        checkout_ok=True,
        acs_renewal_policy=True,
        status_update_ok=False,
        offline_ok=True,
        timeout_period=30,
        retries_allowed=3,
        date_time_sync=datetime(2024, 3, 15, 14, 30, 25),
        protocol_version="2.00",
        institution_id="MAIN",
        library_name=name,
        supported_messages=SupportedMessages(sc_acs_status=True, login=True),
        terminal_location="BRANCH1",
    )


def request_99(sequence: int | None) -> bytes:
    body = b"9900302.00"
    if sequence is None:
        return body
    prefix = body + b"AY%dAZ" % sequence
    return prefix + compute_checksum(prefix).encode()


def respond(exchange: Exchange, frame: bytes, message: ACSStatus) -> bytes:
    action = exchange.receive(frame)
    assert isinstance(action, Execute)
    return exchange.respond(action.received, message)


def test_the_same_message_gets_each_requests_trailer() -> None:
    exchange = Exchange()
    message = status()
    for sequence in (0, 1, 7, None, 3):
        data = respond(exchange, request_99(sequence), message)
        assert data == encode(message, sequence=sequence, checksum=sequence is not None)
        if sequence is not None:
            assert data[-10:-5] == b"AY%dAZ" % sequence and verify_checksum(data[:-1])
        assert decode(data[:-1]).message == message


def test_a_new_encoding_reencodes_the_same_message() -> None:
    exchange = Exchange()
    message = status()
    assert respond(exchange, request_99(1), message) == encode(message, sequence=1, checksum=True)
    exchange.configure(encoding="latin-1", mode="auto", terminator=b"\r\n")
    latin = respond(exchange, request_99(2), message)
    assert latin == encode(message, "latin-1", sequence=2, checksum=True, terminator=b"\r\n")
    assert "è".encode("latin-1") in latin


def test_a_different_message_is_encoded_afresh() -> None:
    exchange = Exchange()
    first, second = status("One"), status("Two")
    assert b"AMOne|" in respond(exchange, request_99(1), first)
    assert b"AMTwo|" in respond(exchange, request_99(2), second)
    assert b"AMOne|" in respond(exchange, request_99(3), first)
