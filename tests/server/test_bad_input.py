"""Bad input hurts no one else (issue #15 items 1, 2 and 7), over TCP against a real daemon.

1. Over-long fields are refused by name before the database; a database error that is not a
   connection failure refuses one request and never takes the other kiosks off line.
2. The extreme dates of the issue's frames are answered, with no traceback in the log.
7. An identical 99 is answered afresh, never from the stored reply.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio
from sqlalchemy import insert, select, update

from sip2d.client import SipClient
from sip2d.protocol import (
    ACSStatus,
    CheckinResponse,
    CheckoutRequest,
    LoginRequest,
    Message,
    PatronStatusRequest,
    SCStatus,
    decode,
    encode,
)
from sip2d.server.field_limits import LIMITS, label
from sip2d.storage.connect import open_engine
from sip2d.storage.models import items, kiosk_accounts, loan_policies, loans, patrons
from tests.server.conftest import ALICE, BOB, ITEMS, Running, make_config, seed, start
from tests.server.robust_tools import (
    REQUEST_TYPES,
    assert_no_traceback,
    count_level,
    log_entries,
    request,
)
from tests.server.test_logs import captured_log

# The frame of the issue: AA of 70 characters against a VARCHAR(64), and a wrong PIN.
ATTACK = b"2300020261130    120000AOMAIN|AA" + b"X" * 70 + b"|AC|ADwrong|\r"


def screen_text(frame: bytes) -> str:
    """The AF of a response frame ("" when it has none)."""
    message = decode(frame).message
    screen = getattr(message, "screen_message", ())
    return screen[0] if screen else ""


def over_long(cls: type[Message], attr: str, length: int) -> bytes:
    """A ``cls`` frame whose ``attr`` is ``length`` characters (the encoder would cut it at
    255 bytes, as it must for what the server sends, so the value is put in afterwards)."""
    marker = "Q" * 8
    frame = encode(request(cls, **{attr: marker}), "utf-8")
    assert frame.count(marker.encode()) == 1
    return frame.replace(marker.encode(), b"X" * length)


async def test_every_over_long_field_is_refused_by_name(running: Running) -> None:
    client = await running.logged_in(checksums=False)
    cases = [
        (cls, var.attr)
        for cls in REQUEST_TYPES
        for var in cls.LAYOUT.variable
        if var.attr in LIMITS
    ]
    assert len({attr for _, attr in cases}) == len(LIMITS)  # every limit is reachable
    with captured_log(logging.INFO) as log:
        for cls, attr in cases:
            limit = LIMITS[attr]
            await client.send_raw(over_long(cls, attr, limit + 1))
            frame = await client.receive_frame()
            if cls is LoginRequest:  # 94 has no screen message: a plain refusal
                assert frame.startswith(b"940"), (attr, frame)
            else:
                expected = f"{label(attr)} too long (max {limit})"
                assert screen_text(frame) == expected, (cls.__name__, attr, frame)
        # At the limit exactly the value goes through to the database, which takes it.
        at_limit = request(PatronStatusRequest, patron_identifier="X" * 64)
        await client.send_raw(client.encode(at_limit))
        assert "too long" not in screen_text(await client.receive_frame())
        status = (await client.sc_status()).message
    assert isinstance(status, ACSStatus) and status.online_status is True
    assert count_level(log.getvalue(), "error") == 0
    assert_no_traceback(log.getvalue())


def _pin_failures(running: Running, barcode: str) -> int:
    engine = open_engine(running.config.database)
    try:
        with engine.connect() as conn:
            query = select(patrons.c.pin_failures).where(patrons.c.barcode == barcode)
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


async def test_attack_frame_keeps_other_kiosks_on_line_postgres(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    config = make_config(tmp_path, postgres_url)
    seed(config)
    running = await start(nursery, config)
    attacker, victim = await running.logged_in(), await running.logged_in()
    with captured_log(logging.INFO) as log:
        for _ in range(20):
            await attacker.send_raw(ATTACK)
            answer = await attacker.receive_frame()
            assert answer.startswith(b"24")
            assert screen_text(answer) == "Patron identifier too long (max 64)"
            status = (await victim.sc_status()).message
            assert isinstance(status, ACSStatus) and status.online_status is True
        # A wrong PIN for a real card from the same kiosk is still counted against the card.
        await attacker.patron_status(BOB[0], "0000")
    assert _pin_failures(running, BOB[0]) == 1
    assert count_level(log.getvalue(), "error") == 0
    running.daemon.stop()


async def test_other_database_errors_refuse_one_request_postgres(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    """A fine larger than its INTEGER column (DataError) refuses that checkin only."""
    config = make_config(tmp_path, postgres_url)
    seed(config)
    running = await start(nursery, config)
    kiosk = await running.logged_in()
    assert (await kiosk.checkout(ALICE[0], ITEMS[0], ALICE[1])).message.ok  # type: ignore[attr-defined]
    engine = open_engine(config.database)
    with engine.begin() as conn:
        conn.execute(insert(loan_policies).values(daily_fine_cents=2**31 - 1))
        overdue = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=10)
        conn.execute(update(loans).values(due_at=overdue))
    with captured_log(logging.INFO) as log:
        refused = (await kiosk.checkin(ITEMS[0])).message
        status = (await kiosk.sc_status()).message
    assert isinstance(refused, CheckinResponse) and refused.ok is False
    assert "could not be processed" in refused.screen_message[0]
    assert isinstance(status, ACSStatus) and status.online_status is True
    errors = [e for e in log_entries(log.getvalue()) if e["level"] == "error"]
    assert [(e["event"], e["error"].split(":")[0]) for e in errors] == [
        ("database error", "DataError")
    ]
    assert "out of range" in errors[0]["error"]
    assert_no_traceback(log.getvalue())
    with engine.connect() as conn:  # rolled back whole: the loan is still open
        open_loans = conn.execute(select(loans.c.id).where(loans.c.returned_at.is_(None)))
        assert len(open_loans.all()) == 1
    engine.dispose()
    running.daemon.stop()


# The three frames of the issue, byte for byte, and the paths around them, in order.
CHECKOUT_ONLINE = b"11YN20261130    120000                  AOMAIN|AAR0002|ABI00011|AC|"
RETURNED_IN_9999 = b"09Y20261130    12000099991231   Y235959APMAIN|AOMAIN|ABI00011|AC|"
EXTREME_FRAMES = [
    CHECKOUT_ONLINE,
    b"09N20261130    12000099991231   Y235959APMAIN|AOMAIN|ABI00011|AC|",
    b"11YY00010101   I000000                  AOMAIN|AAR0002|ABI00013|AC|",
    b"15+20261130    120000BW00010101    000000|AOMAIN|AAR0002|ABI00013|AC|",
    # Off line, due 9999-12-31; then renewing that loan, alone and with all the others.
    b"11YY99991231    23595999991231    235959AOMAIN|AAR0002|ABI00011|AC|",
    b"29YY99991231    23595999991231    235959AOMAIN|AAR0002|ABI00011|AC|",
    b"6599991231   Z235959AOMAIN|AAR0002|AC|",
    b"29YY00010101    00000000010101    000000AOMAIN|AAR0002|ABI00011|AC|",
    # A loan due in three weeks returned off line "in 9999": returned now, no fine.
    b"09N20261130    120000                  APMAIN|AOMAIN|ABI00011|AC|",
    CHECKOUT_ONLINE,
    RETURNED_IN_9999,
    # Every date field at both ends of the range, in every zone form.
    b"09Y00010101    00000000010101    000000APMAIN|AOMAIN|ABI00011|AC|",
    b"11YY99991231   Z23595900010101   Y000000AOMAIN|AAR0002|ABI00011|AC|",
    b"15*99991231    235959BW99991231   Y235959|AOMAIN|AAR0002|ABI00013|AC|",
    b"15-00010101    000000BW00010101   I000000|AOMAIN|AAR0002|ABI00013|AC|",
    b"2300099991231   Y235959AOMAIN|AAR0002|AC|",
    b"6300000010101   I000000Y         AOMAIN|AAR0002|AC|",
    b"1799991231    235959AOMAIN|ABI00011|AC|",
    b"1900010101   I000000AOMAIN|ABI00011|AC|CHshelf|",
    b"3700010101    0000000100USDBV0.00|AOMAIN|AAR0002|",
    b"3500010101    000000AOMAIN|AAR0002|",
]


def _seed_issue_records(running: Running) -> None:
    """The issue's records: card R0002, items I00011 and I00013, daily fines, off line kiosks."""
    engine = open_engine(running.config.database)
    with engine.begin() as conn:
        conn.execute(insert(patrons).values(barcode="R0002", name="Rita", expires_on=None))
        for barcode in ("I00011", "I00013"):
            conn.execute(insert(items).values(barcode=barcode, title=f"Title {barcode}"))
        conn.execute(insert(loan_policies).values(daily_fine_cents=25))
        conn.execute(update(kiosk_accounts).values(can_offline=True))
    engine.dispose()


async def test_extreme_dates_are_answered(
    nursery: trio.Nursery, tmp_path: Path, database_url: str
) -> None:
    config = make_config(tmp_path, database_url)
    config = dataclasses.replace(
        config, session=dataclasses.replace(config.session, checkout_pin="never")
    )
    seed(config)
    running = await start(nursery, config)
    _seed_issue_records(running)
    client = await running.logged_in(checksums=False)
    with captured_log(logging.INFO) as log:
        for frame in EXTREME_FRAMES:
            await client.send_raw(frame + b"\r")
            answer = await client.receive_frame()
            expected = {b"01": b"24", b"35": b"36"}.get(frame[:2], b"%02d" % (int(frame[:2]) + 1))
            assert answer[:2] == expected, (frame, answer)
            decode(answer)  # every date it carries is one a kiosk can read back
            if frame in (CHECKOUT_ONLINE, RETURNED_IN_9999):
                assert answer[2:3] == b"1", (frame, answer)  # done
            if frame == RETURNED_IN_9999:
                assert "fine" not in screen_text(answer), answer
            if frame.startswith(b"29YY9999"):
                assert answer.startswith(b"301"), answer  # renewed, still due in 9999
                assert b"AH99991231    235959" in answer
        status = (await client.sc_status()).message
    assert isinstance(status, ACSStatus) and status.online_status is True
    assert count_level(log.getvalue(), "error") == 0
    assert_no_traceback(log.getvalue())
    running.daemon.stop()


async def test_identical_99_is_answered_afresh(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    """Same AY, same checksum: still a new clock and the on-line flag as it is now."""
    config = make_config(tmp_path, sqlite_url, health_check_interval=3600.0)
    seed(config)
    running = await start(nursery, config)
    client = await running.logged_in()
    frame = client.encode(SCStatus(), sequence=7)
    await client.send_raw(frame)
    first = decode(await client.receive_frame()).message
    running.daemon.ctx.health.failed(OSError("database gone"))
    await trio.sleep(1.05)  # into the next second of the wire clock
    await client.send_raw(frame)
    second = decode(await client.receive_frame()).message
    assert isinstance(first, ACSStatus) and isinstance(second, ACSStatus)
    assert first.online_status is True and second.online_status is False
    assert first.date_time_sync is not None and second.date_time_sync is not None
    assert second.date_time_sync > first.date_time_sync
    running.daemon.stop()


async def test_identical_request_other_than_99_is_still_a_retransmission(
    running: Running,
) -> None:
    """The retry rule stays for requests that change things: a repeated 11 is not a renewal."""
    client: SipClient = await running.logged_in()
    frame = client.encode(request(CheckoutRequest), sequence=4)
    await client.send_raw(frame)
    first = await client.receive_frame()
    await client.send_raw(frame)
    assert await client.receive_frame() == first
    running.daemon.stop()
