"""Error detection, framing tolerance and session rules, over TCP against a real daemon."""

from __future__ import annotations

from datetime import datetime

import pytest
import trio
from sqlalchemy import create_engine, func, select

from sip2d.client import ClientError
from sip2d.protocol import (
    CheckoutRequest,
    CheckoutResponse,
    PatronStatusResponse,
    RequestSCResend,
    compute_checksum,
    decode,
    verify_checksum,
)
from sip2d.storage.models import loans
from tests.server.conftest import ALICE, ITEMS, KIOSK, Running

NOW = "20240315    143025"


def with_trailer(body: str, sequence: int) -> bytes:
    prefix = f"{body}AY{sequence}AZ".encode()
    return prefix + compute_checksum(prefix).encode() + b"\r"


async def test_bad_checksum_gets_96_and_executes_nothing(running: Running) -> None:
    client = await running.logged_in()
    body = f"11YN{NOW}{' ' * 18}AOMAIN|AA{ALICE[0]}|AB{ITEMS[0]}|AD{ALICE[1]}|"
    await client.send_raw(f"{body}AY3AZ0000\r".encode())
    assert await client.receive_frame() == b"96AZFEF6"
    engine = create_engine(running.url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(loans)).scalar_one() == 0
    engine.dispose()


async def test_97_resends_last_response_verbatim_and_96_before_any(running: Running) -> None:
    client = await running.client()
    await client.send_raw(b"97AZFEF5\r")
    assert await client.receive_frame() == b"96AZFEF6"
    assert await client.login(*KIOSK)
    first = client.transcript[-1][1]
    await client.send_raw(b"97AZFEF5\r")
    assert await client.receive_frame() == first
    await client.send_raw(b"97\r")
    assert await client.receive_frame() == first


async def test_duplicate_request_is_answered_once_with_no_second_loan(running: Running) -> None:
    client = await running.logged_in()
    frame = with_trailer(f"11YN{NOW}{' ' * 18}AOMAIN|AA{ALICE[0]}|AB{ITEMS[0]}|AD{ALICE[1]}|", 4)
    await client.send_raw(frame)
    first = await client.receive_frame()
    await client.send_raw(frame)
    second = await client.receive_frame()
    assert first == second
    response = decode(first).message
    assert isinstance(response, CheckoutResponse) and response.ok
    engine = create_engine(running.url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(loans)).scalar_one() == 1
    engine.dispose()
    # Same sequence number, different content: a new request, executed (reference E19).
    other = with_trailer(f"11YN{NOW}{' ' * 18}AOMAIN|AA{ALICE[0]}|AB{ITEMS[1]}|AD{ALICE[1]}|", 4)
    await client.send_raw(other)
    again = decode(await client.receive_frame()).message
    assert isinstance(again, CheckoutResponse) and again.ok and again.item_identifier == ITEMS[1]


async def test_trailer_mirrors_request(running: Running) -> None:
    client = await running.logged_in(checksums=False)
    await client.send_raw(b"9900302.00\r")
    plain = await client.receive_frame()
    assert b"AZ" not in plain[-6:] and plain.startswith(b"98")
    await client.send_raw(b"9900302.00AY1AZfca5\r")  # lowercase checksum accepted
    mirrored = await client.receive_frame()
    assert mirrored[-9:-4] == b"AY1AZ" and verify_checksum(mirrored)
    assert mirrored[-4:].decode() == mirrored[-4:].decode().upper()


async def test_crlf_split_and_pipelined_frames(running: Running) -> None:
    client = await running.logged_in(checksums=False, terminator=b"\r\n")
    status = f"23000{NOW}AOMAIN|AA{ALICE[0]}|AC|AD{ALICE[1]}|\r\n".encode()
    for index in range(0, len(status), 7):  # one frame in many TCP segments
        await client.send_raw(status[index : index + 7])
        await trio.sleep(0.001)
    reply = decode(await client.receive_frame()).message
    assert isinstance(reply, PatronStatusResponse) and reply.valid_patron_password is True
    await client.send_raw(b"9900302.00\r\n" * 3 + b"\n")  # three pipelined frames + stray LF
    for _ in range(3):
        assert (await client.receive_frame()).startswith(b"98")


async def test_messages_before_login_get_refusal_forms(running: Running) -> None:
    client = await running.client(checksums=False)
    assert (await client.sc_status()).message.MESSAGE_ID == "98"  # allowed before 93
    reply = (await client.patron_status(ALICE[0], ALICE[1])).message
    assert isinstance(reply, PatronStatusResponse)
    assert str(reply.patron_status).startswith("YYYY") and reply.valid_patron is False
    assert reply.screen_message == ("Please log in first.",)
    refused = (await client.checkout(ALICE[0], ITEMS[0], ALICE[1])).message
    assert isinstance(refused, CheckoutResponse) and refused.ok is False


async def test_unknown_ids_and_garbage_get_96_then_close(running: Running) -> None:
    client = await running.logged_in(checksums=False)
    for _ in range(2):
        await client.send_raw(b"XYZZY\r")
        assert await client.receive_frame() == b"96"
    await client.send_raw(b"42nonsense\r")
    assert await client.receive_frame() == b"96"
    with pytest.raises(ClientError):
        await client.receive_frame(timeout=2)


async def test_wrong_password_then_close_after_three(running: Running) -> None:
    client = await running.client()
    for _ in range(3):
        assert await client.login(KIOSK[0], "wrong") is False
    with pytest.raises((ClientError, trio.BrokenResourceError)):
        await client.sc_status()


async def test_malformed_known_message_gets_its_refusal_form(running: Running) -> None:
    client = await running.logged_in(checksums=False)
    await client.send_raw(b"23000short\r")  # fixed part too short, no AA
    reply = decode(await client.receive_frame()).message
    assert isinstance(reply, PatronStatusResponse) and reply.valid_patron is False
    assert reply.screen_message[0].startswith("Malformed request")


async def test_checkout_by_request_object_round_trip(running: Running) -> None:
    client = await running.logged_in()
    request = CheckoutRequest(
        sc_renewal_policy=True,
        transaction_date=datetime(2024, 3, 15, 14, 30, 25),
        institution_id="",
        patron_identifier=ALICE[0],
        item_identifier=ITEMS[2],
        patron_password=ALICE[1],
    )
    reply = await client.request(request)
    assert reply.trailer is not None
    out = reply.message
    assert isinstance(out, CheckoutResponse) and out.ok and out.institution_id == "MAIN"
    assert not isinstance(out, RequestSCResend)
