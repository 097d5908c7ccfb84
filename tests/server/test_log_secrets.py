"""Nothing secret in any log line at any level, end to end over TCP.

The unit tests of :mod:`sip2d.protocol.redact` prove the redacting function; this proves the
daemon only ever logs through it. A real daemon (on SQLite and on PostgreSQL) is sent every one
of the 16 requests a kiosk can send, each carrying a distinctive patron PIN (AD), terminal
password (AC) and login password (CO): where the layout has the field, and as an unknown field
where it has not. It is also sent right and wrong PINs and kiosk passwords, logins refused and
accepted, requests before login, and malformed frames of every kind the exchange rules know
(bad checksum, unknown id, a fixed part of the wrong length, a required field missing, a NUL
byte, a frame too long). Everything the ``sip2d`` loggers write is captured with both
formatters, at DEBUG (where the parsed fields are logged) and at INFO, and searched for every
secret in the encodings a leak usually takes (:func:`tests.auth.secret_scan.assert_secret_absent`).

The login user id (CN) of a kiosk account may be logged; but a refused login's CN may be a
password typed into the wrong box, so it must not reach any line.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import trio

from sip2d.client import ClientError, SipClient
from sip2d.protocol import MESSAGE_TYPES, Message, compute_checksum
from sip2d.protocol.redact import MASK
from sip2d.server.logs import JsonFormatter, TextFormatter
from tests.auth.secret_scan import assert_secret_absent
from tests.server.conftest import ALICE, BOB, EXPIRED, HELD_ITEM, ITEMS, KIOSK, Running

SECRET_AD = "Zq81secretAD"
SECRET_AC = "Zq82secretAC"
SECRET_CO = "Zq83secretCO"
SECRET_CN = "Zq84typedPasswordInCN"
WRONG_KIOSK_PASSWORD = "Zq85wrongKioskPass"
SECRETS = {"AD": SECRET_AD, "AC": SECRET_AC, "CO": SECRET_CO}
# Everything that must never be logged: the distinctive values, the right kiosk password and
# the right PINs (sent too: a PIN that matches must not be logged either).
NEVER_LOGGED = (SECRET_AD, SECRET_AC, SECRET_CO, WRONG_KIOSK_PASSWORD, KIOSK[1], ALICE[1], BOB[1])

# The 16 requests a kiosk sends, in the order of reference section 7.
REQUEST_IDS = (
    "93", "99", "23", "63", "11", "09", "17", "19", "35", "37", "15", "29", "65", "01", "25", "97",
)  # fmt: skip
LEVELS = [pytest.param(logging.DEBUG, id="DEBUG"), pytest.param(logging.INFO, id="INFO")]


@dataclass
class Captured:
    """What the ``sip2d`` loggers wrote, once through each formatter."""

    json: io.StringIO
    text: io.StringIO

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.json.getvalue().splitlines()]

    def all_output(self) -> tuple[str, str]:
        return self.json.getvalue(), self.text.getvalue()


@contextmanager
def captured_logs(level: int) -> Iterator[Captured]:
    captured = Captured(io.StringIO(), io.StringIO())
    handlers = []
    for stream, formatter in (
        (captured.json, JsonFormatter()),
        (captured.text, TextFormatter()),
    ):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handlers.append(handler)
    logger = logging.getLogger("sip2d")
    old_level = logger.level
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield captured
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.setLevel(old_level)


def now() -> datetime:
    return datetime.now().replace(microsecond=0)


def fields_of(message_id: str, patron: str, item: str) -> dict[str, Any]:
    """The fields of a plausible request ``message_id``, secrets left out."""
    when = now()
    patron_fields = {
        "transaction_date": when,
        "institution_id": "MAIN",
        "patron_identifier": patron,
    }
    item_fields = {"transaction_date": when, "institution_id": "MAIN", "item_identifier": item}
    table: dict[str, dict[str, Any]] = {
        "93": {"login_user_id": KIOSK[0]},
        "99": {"status_code": "0", "max_print_width": 40, "protocol_version": "2.00"},
        "23": patron_fields,
        "63": patron_fields,
        "11": {**patron_fields, "item_identifier": item},
        "09": {**item_fields, "return_date": when, "current_location": "BRANCH1"},
        "17": item_fields,
        "19": {**item_fields, "item_properties": "shelf 3"},
        "35": patron_fields,
        "37": {**patron_fields, "fee_amount": "1.00"},
        "15": {**patron_fields, "hold_mode": "+", "item_identifier": HELD_ITEM},
        "29": {**patron_fields, "item_identifier": item},
        "65": patron_fields,
        # Blocking is for real: a patron the other requests do not use.
        "01": {**patron_fields, "patron_identifier": EXPIRED, "blocked_card_msg": "retained"},
        "25": patron_fields,
        "97": {},
    }
    return table[message_id]


def request(
    message_id: str,
    secrets: dict[str, str],
    *,
    patron: str = ALICE[0],
    item: str = ITEMS[0],
    **fields: Any,
) -> Message:
    """Request ``message_id`` carrying ``secrets`` (code -> value) in its layout or as extras."""
    cls = MESSAGE_TYPES[message_id]
    values = fields_of(message_id, patron, item) | fields
    by_code = {var.code: var.attr for var in cls.LAYOUT.variable}
    extra = []
    for code, secret in secrets.items():
        if code in by_code:
            values.setdefault(by_code[code], secret)
        else:
            extra.append((code, secret))
    return cls(**values, extra=tuple(extra))


def sealed(body: str) -> bytes:
    """``body`` with a valid ``AY0AZxxxx`` trailer and CR, as a careful kiosk would send it."""
    data = body.encode("utf-8") + b"AY0AZ"
    return data + compute_checksum(data).encode("ascii") + b"\r"


async def exchange(client: SipClient, data: bytes) -> bytes:
    await client.send_raw(data)
    return await client.receive_frame()


async def send_every_request(client: SipClient, secrets: dict[str, str], patron: str) -> None:
    """All 16 requests, each carrying ``secrets``; the answer to each is awaited."""
    for message_id in REQUEST_IDS:
        item = ITEMS[1] if message_id == "11" else ITEMS[2]
        await exchange(
            client, client.encode(request(message_id, secrets, patron=patron, item=item))
        )


async def send_malformed_frames(client: SipClient) -> None:
    """Frames the exchange refuses, all carrying the secrets; never three in a row."""
    tail = f"AD{SECRET_AD}|AC{SECRET_AC}|CO{SECRET_CO}|"
    broken = client.encode(request("23", SECRETS))
    bad_checksum = broken[:-2] + (b"0" if broken[-2:-1] != b"0" else b"1") + b"\r"
    frames = [
        sealed(f"23000garbage|{tail}"),  # fixed part of the wrong length
        sealed(f"9300CO{SECRET_CO}|AD{SECRET_AD}|AC{SECRET_AC}|"),  # CN missing
        bad_checksum,
        sealed(f"42{tail}"),  # unknown message id
        sealed(f"1720240315    143025AOMAIN|AB{ITEMS[0]}|\x00{tail}"),  # NUL byte
        sealed(f"97{tail}"),
    ]
    for number, frame in enumerate(frames):
        await exchange(client, frame)
        if number % 2:
            # A fresh sequence number each time: a repeated frame is a retransmission, which
            # would not end the run of errors.
            await exchange(client, client.encode(request("99", {})))


async def send_too_long_frame(running: Running) -> None:
    """A frame past ``max_frame_bytes``, full of secrets: the daemon drops the connection."""
    client = await running.logged_in()
    tail = f"AD{SECRET_AD}|AC{SECRET_AC}|CO{SECRET_CO}|".encode()
    limit = running.config.server.max_frame_bytes
    # The daemon may close while the last bytes are still on their way.
    with contextlib.suppress(trio.BrokenResourceError):
        await client.send_raw(b"23000" + tail * (limit // len(tail) + 2))
    with pytest.raises((ClientError, trio.BrokenResourceError)):
        await client.receive_frame(timeout=5)
    await client.aclose()


async def wait_for_disconnects(captured: Captured, count: int) -> None:
    """Until the daemon has logged ``count`` disconnects: its last lines are in the capture."""
    with trio.fail_after(10):
        while sum(e["event"] == "disconnect" for e in captured.entries()) < count:
            await trio.sleep(0.01)


def masked_codes(entry: dict[str, Any]) -> set[str]:
    """The secret codes a logged message line shows masked, from its layout or its extras."""
    layout = MESSAGE_TYPES[entry["msg_id"]].LAYOUT
    fields = entry["fields"]
    shown = {var.code for var in layout.variable if fields.get(var.attr) == MASK}
    return shown | {code for code, value in fields["extra"] if value == MASK}


@pytest.mark.parametrize("level", LEVELS)
async def test_no_secret_reaches_any_log_line(running: Running, level: int) -> None:
    with captured_logs(level) as captured:
        # A refused login with the secrets as extras, then a request before any login.
        refused = await running.client()
        await exchange(
            refused,
            refused.encode(request("93", SECRETS | {"CO": WRONG_KIOSK_PASSWORD})),
        )
        await exchange(refused, refused.encode(request("23", SECRETS)))
        await refused.aclose()

        # The right kiosk password, AD and AC as extras; then everything with wrong PINs (for
        # ALICE, whom they lock), with the right PIN (for BOB), and ALICE's right PIN once she
        # is locked.
        client = await running.client()
        login = request("93", SECRETS | {"CO": KIOSK[1]})
        assert (await client.request(login)).message.ok  # type: ignore[attr-defined]
        await send_every_request(client, SECRETS, ALICE[0])
        await send_every_request(client, SECRETS | {"AD": BOB[1]}, BOB[0])
        await exchange(client, client.encode(request("23", SECRETS | {"AD": ALICE[1]})))
        await send_malformed_frames(client)
        await client.aclose()

        await send_too_long_frame(running)
        await wait_for_disconnects(captured, 3)

    for secret in NEVER_LOGGED:
        assert_secret_absent(secret, *captured.all_output())

    # The scan saw what it should have: every request logged, malformed frames reported, and
    # at DEBUG the fields of every request with all three secrets present and masked.
    entries = captured.entries()
    messages = [e for e in entries if e["event"] == "message"]
    executed = set(REQUEST_IDS) - {"97", "99"}  # a 97 is a resend; a good 99 logs at DEBUG
    assert executed <= {e["msg_id"] for e in messages}
    assert sum(e["event"] == "malformed" for e in entries) >= 3
    assert "97 resend" in {e.get("result") for e in entries}
    if level == logging.DEBUG:
        for message_id in set(REQUEST_IDS) - {"97"}:
            lines = [e for e in messages if e["msg_id"] == message_id]
            # A refused 93 also masks its login name (CN): people type passwords into it.
            expected = {"AD", "AC", "CO"} | ({"CN"} if message_id == "93" else set())
            assert set().union(*map(masked_codes, lines)) == expected, message_id
    else:
        assert all("fields" not in e for e in messages)


@pytest.mark.parametrize("level", LEVELS)
async def test_a_refused_login_user_id_reaches_no_log_line(running: Running, level: int) -> None:
    with captured_logs(level) as captured:
        client = await running.client()
        for password in (SECRET_CO, KIOSK[1]):
            typed = request("93", {"CO": password}, login_user_id=SECRET_CN)
            assert not (await client.request(typed)).message.ok  # type: ignore[attr-defined]
        await client.aclose()
        await wait_for_disconnects(captured, 1)
    assert any(e["event"] == "login refused" for e in captured.entries())
    for secret in (SECRET_CN, SECRET_CO, KIOSK[1]):
        assert_secret_absent(secret, *captured.all_output())
