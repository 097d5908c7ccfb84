"""`sip2d client` sends every message a kiosk can (issue #17 item 13), as a subprocess against a
live daemon on each engine: refusals and wrong PINs exit 1, and the output shows values (one
list entry per line, flags by name, yes/no), never Python reprs."""

from __future__ import annotations

from tests.server.conftest import ALICE, BOB, FINED, ITEMS, KIOSK, Running
from tests.server.test_client_cli import sip2d_client


def _readable(out: bytes) -> str:
    """The output, checked to show values as a person reads them, never Python reprs."""
    text = out.decode()
    for repr_mark in ("('", '("', "PatronStatus(", "SupportedMessages(", "Summary(", "datetime."):
        assert repr_mark not in text, text
    return text


async def test_client_sends_every_message(running: Running) -> None:
    login = f"--login={KIOSK[0]}:{KIOSK[1]}"

    async def ok(*args: str, stdin: str = "") -> str:
        done = await sip2d_client(running, login, *args, stdin=stdin)
        assert done.returncode == 0, done.stdout + done.stderr
        return _readable(done.stdout)

    async def refused(*args: str, stdin: str = "") -> str:
        done = await sip2d_client(running, login, *args, stdin=stdin)
        assert done.returncode == 1, done.stdout + done.stderr
        return _readable(done.stdout)

    status = await ok("sc-status")
    assert "supported_messages:" in status and "renew all" in status
    await ok("checkout", ITEMS[1], "--patron", ALICE[0], "--pin-stdin", stdin=ALICE[1])
    renewed = await ok("renew", ITEMS[1], "--patron", ALICE[0], "--pin-stdin", stdin=ALICE[1])
    assert renewed.startswith("30 RenewResponse") and "  ok: yes" in renewed
    every = await ok("renew-all", ALICE[0], "--pin-stdin", stdin=ALICE[1])
    assert every.startswith("66 RenewAllResponse")
    assert f"  renewed_items:\n    {ITEMS[1]}\n" in every
    held = await ok("hold", ALICE[0], "--item", ITEMS[2], "--pin-stdin", stdin=ALICE[1])
    assert held.startswith("16 HoldResponse") and "queue_position: 1" in held
    assert "  screen_message:\n    Your hold was placed.\n" in held  # AF one per line
    cancelled = await ok(
        "hold", ALICE[0], "--item", ITEMS[2], "--mode", "cancel", "--pin-stdin", stdin=ALICE[1]
    )
    assert "ok: yes" in cancelled
    paid = await ok("fee-paid", FINED, "--amount", "5.00", "--no-pin", "--transaction-id", "T1")
    assert paid.startswith("38 FeePaidResponse") and "payment_accepted: yes" in paid
    blocked = await ok("block", BOB[0], "--message", "card reported stolen")
    assert blocked.startswith("24 PatronStatusResponse")
    assert "charge privileges denied" in blocked  # the flags by name, not a dataclass repr
    enabled = await ok("enable", BOB[0], "--pin-stdin", stdin=BOB[1])
    assert enabled.startswith("26 PatronEnableResponse")
    assert "patron_status: none" in enabled
    item = await ok("item-status", ITEMS[3], "--properties", "RFID tag 7")
    assert item.startswith("20 ItemStatusUpdateResponse") and "item_properties_ok: yes" in item

    # A refused answer and a wrong PIN exit 1, and say why in values.
    wrong = await refused("patron-status", ALICE[0], "--pin-stdin", stdin="0000")
    assert "valid_patron_password: no" in wrong
    assert "payment_accepted: no" in await refused("fee-paid", ALICE[0], "--amount", "1.00",
                                                   "--pin-stdin", stdin=ALICE[1])  # fmt: skip
    assert "ok: no" in await refused("renew", ITEMS[4], "--patron", ALICE[0], "--no-pin")

    usage = await sip2d_client(running, login, "fee-paid", ALICE[0], "--amount", "lots")
    assert usage.returncode == 2 and b"--amount" in usage.stderr
    usage = await sip2d_client(running, login, "hold", ALICE[0])
    assert usage.returncode == 2 and b"--item" in usage.stderr
