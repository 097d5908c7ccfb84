"""/pin/change through the kiosks' PIN gate (one lockout, both directions) and /pin/setup with
a desk code; the desk commands and their audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from sip2d.client import SipClient
from sip2d.storage.audit import recent_audit
from sip2d.storage.connect import open_engine
from sip2d.storage.models import pin_tokens
from tests.server.conftest import ALICE, BOB, NOPIN
from tests.web.conftest import Page

NEW_PIN = "58316294"


async def kiosk_says(client: SipClient, barcode: str, pin: str) -> tuple[bool, str]:
    reply = (await client.patron_status(barcode, pin)).message
    return getattr(reply, "valid_patron_password", None) is True, " ".join(
        getattr(reply, "screen_message", ()) or ()
    )


async def change(page: Page, current: str, new: str = NEW_PIN, card: str = ALICE[0]) -> str:
    response = await page.post(
        "/pin/change", card=card, current_pin=current, new_pin=new, new_pin_again=new
    )
    return "changed" if response.status_code == 200 else response.text


async def test_change_with_the_current_pin(page: Page) -> None:
    refused = await change(page, "99999999")
    assert "was not accepted" in refused
    assert await change(page, ALICE[1]) == "changed"
    kiosk = await page.server.logged_in()
    async with kiosk:
        assert (await kiosk_says(kiosk, ALICE[0], NEW_PIN))[0]
        assert not (await kiosk_says(kiosk, ALICE[0], ALICE[1]))[0]
    await page.settle()
    notices = [m for m in page.mails() if m["Subject"] == "Your PIN was changed"]
    assert len(notices) == 1
    body = notices[0].get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "ending in 1001" in body.decode() and NEW_PIN not in body.decode()


async def test_failures_on_the_page_lock_the_card_at_the_kiosk(page: Page) -> None:
    for _ in range(page.config.throttle.max_failures):
        assert "was not accepted" in await change(page, "99999999")
    kiosk = await page.server.logged_in()
    async with kiosk:
        ok, message = await kiosk_says(kiosk, ALICE[0], ALICE[1])
    assert not ok and "locked" in message.lower()
    # A locked card cannot change its PIN, even with the right one.
    assert "was not accepted" in await change(page, ALICE[1])


async def test_failures_at_the_kiosk_lock_the_card_on_the_page(page: Page) -> None:
    kiosk = await page.server.logged_in()
    async with kiosk:
        for _ in range(page.config.throttle.max_failures):
            assert not (await kiosk_says(kiosk, ALICE[0], "99999999"))[0]
    assert "was not accepted" in await change(page, ALICE[1])


async def test_change_form_errors_name_the_rule(page: Page) -> None:
    text = await change(page, ALICE[1], new="1212")
    assert "must not be a pair of digits repeated" in text
    text = await change(page, ALICE[1], new=ALICE[1])
    assert "must be different" in text
    response = await page.post(
        "/pin/change", card="", current_pin="", new_pin=NEW_PIN, new_pin_again=NEW_PIN
    )
    assert response.status_code == 400 and "Enter your card number" in response.text


async def test_desk_code_sets_a_first_pin_once(page: Page) -> None:
    result = await page.cli("patron", "issue-setup-code", NOPIN)
    assert result.exit_code == 0, result.output
    found = re.search(r"([0-9A-Z]{5}-[0-9A-Z]{5})", result.output)
    assert found is not None
    code = found.group(1)
    wrong_card = await page.post(
        "/pin/setup", card=BOB[0], code=code, new_pin=NEW_PIN, new_pin_again=NEW_PIN
    )
    assert wrong_card.status_code == 400 and "was not accepted" in wrong_card.text
    typed = code.lower().replace("-", " ")  # as a patron may type it
    done = await page.post(
        "/pin/setup", card=NOPIN, code=typed, new_pin=NEW_PIN, new_pin_again=NEW_PIN
    )
    assert done.status_code == 200, done.text
    again = await page.post(
        "/pin/setup", card=NOPIN, code=code, new_pin="61947253", new_pin_again="61947253"
    )
    assert again.status_code == 400
    kiosk = await page.server.logged_in()
    async with kiosk:
        assert (await kiosk_says(kiosk, NOPIN, NEW_PIN))[0]
    engine = open_engine(page.config.database)
    try:
        with engine.connect() as conn:
            trail = recent_audit(conn)
            digests = list(conn.execute(select(pin_tokens.c.digest)).scalars())
    finally:
        engine.dispose()
    assert {e["action"] for e in trail} >= {"setup_code.issue", "pin.setup"}
    assert code not in str(trail) and code.replace("-", "") not in str(digests)


async def test_wrong_codes_are_limited_per_card(page: Page) -> None:
    result = await page.cli("patron", "issue-setup-code", NOPIN)
    code = re.findall(r"[0-9A-Z]{5}-[0-9A-Z]{5}", result.output)[0]
    for _ in range(page.config.web.code_failures_per_card):
        response = await page.post(
            "/pin/setup", card=NOPIN, code="AAAAA-AAAAA", new_pin=NEW_PIN, new_pin_again=NEW_PIN
        )
        assert response.status_code == 400
    blocked = await page.post(
        "/pin/setup", card=NOPIN, code=code, new_pin=NEW_PIN, new_pin_again=NEW_PIN
    )
    assert blocked.status_code == 400 and "was not accepted" in blocked.text


async def test_desk_sends_links_only_where_an_address_is_on_file(page: Page) -> None:
    sent = await page.cli("patron", "send-reset-link", ALICE[0])
    assert sent.exit_code == 0, sent.output
    assert "reset link mailed" in sent.output
    assert len(page.links()) == 1
    refused = await page.cli("patron", "send-reset-link", BOB[0])
    assert refused.exit_code == 1
    assert "no e-mail address on file" in refused.output
    assert "issue-setup-code" in refused.output
    too_soon = await page.cli("patron", "send-reset-link", ALICE[0])
    assert too_soon.exit_code == 1 and "less than 5 minutes ago" in too_soon.output
    unknown = await page.cli("patron", "issue-setup-code", "424242")
    assert unknown.exit_code == 1 and "no patron" in unknown.output


async def test_a_desk_code_expires(page: Page) -> None:
    result = await page.cli("patron", "issue-setup-code", NOPIN)
    code = re.findall(r"[0-9A-Z]{5}-[0-9A-Z]{5}", result.output)[0]
    page.shift_clock(timedelta(hours=page.config.web.setup_code_hours, seconds=1))
    late = await page.post(
        "/pin/setup", card=NOPIN, code=code, new_pin=NEW_PIN, new_pin_again=NEW_PIN
    )
    assert late.status_code == 400 and "was not accepted" in late.text
