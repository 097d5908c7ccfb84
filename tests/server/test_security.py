"""Guessing limits, racing kiosks and secrecy, end to end against a running daemon."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import trio
from sqlalchemy import create_engine, func, select

from sip2d.protocol import CheckoutResponse, PatronStatusResponse
from sip2d.server.logs import JsonFormatter
from sip2d.storage.models import loans
from tests.auth.secret_scan import assert_secret_absent
from tests.server.conftest import ALICE, BOB, ITEMS, KIOSK, Running


async def test_wrong_pins_lock_the_patron_and_the_right_pin_is_then_refused(
    running: Running,
) -> None:
    client = await running.logged_in()
    for _ in range(4):
        reply = (await client.patron_status(ALICE[0], "9999")).message
        assert isinstance(reply, PatronStatusResponse)
        assert reply.valid_patron_password is False and reply.screen_message == ("Invalid PIN",)
    fifth = (await client.patron_status(ALICE[0], "9999")).message
    assert isinstance(fifth, PatronStatusResponse)
    assert "PIN locked, try again in 15 minutes" in fifth.screen_message[0]
    right = (await client.patron_status(ALICE[0], ALICE[1])).message
    assert isinstance(right, PatronStatusResponse)
    assert right.valid_patron_password is False
    assert right.screen_message[0].startswith("PIN locked")
    assert right.patron_status.charge_privileges_denied
    refused = (await client.checkout(ALICE[0], ITEMS[0], ALICE[1])).message
    assert isinstance(refused, CheckoutResponse) and refused.ok is False
    # Another patron at the same kiosk is unaffected.
    other = (await client.patron_status(BOB[0], BOB[1])).message
    assert isinstance(other, PatronStatusResponse) and other.valid_patron_password is True


async def test_two_kiosks_racing_for_one_item_make_exactly_one_loan(running: Running) -> None:
    first = await running.logged_in()
    second = await running.logged_in()
    assert (await first.patron_status(ALICE[0], ALICE[1])).message.valid_patron_password  # type: ignore[attr-defined]
    assert (await second.patron_status(BOB[0], BOB[1])).message.valid_patron_password  # type: ignore[attr-defined]
    results: list[bool] = []
    for item in ITEMS:

        async def grab(client: object, patron: tuple[str, str], item: str = item) -> None:
            reply = (await client.checkout(patron[0], item, patron[1])).message  # type: ignore[attr-defined]
            assert isinstance(reply, CheckoutResponse)
            results.append(reply.ok)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(grab, first, ALICE)
            nursery.start_soon(grab, second, BOB)
    assert results.count(True) == len(ITEMS)
    engine = create_engine(running.url)
    with engine.connect() as conn:
        open_loans = conn.execute(
            select(func.count()).select_from(loans).where(loans.c.returned_at.is_(None))
        ).scalar_one()
    engine.dispose()
    assert open_loans == len(ITEMS)


async def test_secrets_never_reach_logs(running: Running, tmp_path: Path) -> None:
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sip2d")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        client = await running.client()
        assert await client.login(KIOSK[0], "not-the-password") is False
        assert await client.login(*KIOSK)
        await client.patron_status(ALICE[0], ALICE[1])
        await client.patron_status(ALICE[0], "7391")
        await client.checkout(ALICE[0], ITEMS[0], ALICE[1])
        await client.send_raw(f"23000garbage|AD{ALICE[1]}|\r".encode())
        await client.receive_frame()
        await client.aclose()
        await trio.sleep(0.05)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    text = captured.getvalue()
    assert '"event": "message"' in text and "***" in text
    for secret in (ALICE[1], "7391", KIOSK[1], "not-the-password"):
        assert_secret_absent(secret, text)
    if running.url.startswith("sqlite:///"):
        db_file = Path(running.url.removeprefix("sqlite:///"))
        assert_secret_absent(ALICE[1], db_file, *db_file.parent.glob(db_file.name + "-*"))
