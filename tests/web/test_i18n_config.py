"""Translations (complete, compiled, used by pages and mails), the ``[web]`` settings that
guard links, and the kiosk hint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import trio
from sqlalchemy import update

from sip2d.config import ConfigError, WebConfig, load_config, validate_web
from sip2d.storage.connect import open_engine
from sip2d.storage.models import patrons
from sip2d.web import catalogs
from sip2d.web.i18n import mail_language, negotiate
from tests.server.conftest import ALICE, NOPIN
from tests.web.conftest import Page, open_page

HINT = "PIN not accepted. New or forgotten PIN: library.example/pin or ask staff"


def test_catalogs_are_complete_and_compiled() -> None:
    assert catalogs.problems() == []


def test_language_negotiation() -> None:
    assert negotiate("de-AT,de;q=0.9,en;q=0.5") == "de"
    assert negotiate("fr-FR, en;q=0.8") == "en"
    assert negotiate("en;q=0.2, de;q=0.9") == "de"
    assert negotiate("garbage;q=x,,;") == "en"
    assert negotiate("de", chosen="en") == "en"
    assert mail_language("003", "en") == "de"
    assert mail_language("000", "de") == "de"


async def test_pages_and_mails_follow_the_language(page: Page) -> None:
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    response = await page.http.get("/pin/forgot", headers=german)
    assert '<html lang="de">' in response.text and "Ausweisnummer" in response.text
    token = await page.csrf("/pin/change")
    weak = await page.http.post(
        "/pin/change",
        data={"csrf": token, "card": ALICE[0], "current_pin": "1", "new_pin": "1111",
              "new_pin_again": "1111"},
        headers=german,
    )  # fmt: skip
    assert "wiederholten Ziffer" in weak.text
    # The patron's own language (SIP2 003 = German) decides the mail.
    engine = open_engine(page.config.database)
    with engine.begin() as conn:
        conn.execute(update(patrons).where(patrons.c.barcode == ALICE[0]).values(language="003"))
    engine.dispose()
    await page.request_link()
    assert page.mails()[-1]["Subject"].startswith("Ihre PIN")
    # The language links set a cookie that wins over Accept-Language.
    chosen = await page.http.get("/pin/language?to=en&back=/pin/forgot", headers=german)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/pin/forgot"
    assert '<html lang="en">' in (await page.http.get("/pin/forgot", headers=german)).text


def test_base_url_must_be_https_unless_waived() -> None:
    with pytest.raises(ConfigError, match="http:// would send reset links in clear"):
        validate_web(WebConfig(base_url="http://pin.example"))
    validate_web(WebConfig(base_url="http://127.0.0.1:8080", allow_insecure_base_url=True))
    with pytest.raises(ConfigError, match="base_url: required"):
        validate_web(WebConfig(listen="127.0.0.1:8080"))
    with pytest.raises(ConfigError, match="expected https://HOST"):
        validate_web(WebConfig(base_url="pin.example"))


def test_example_config_documents_web_and_mail() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    config = load_config(example, env={})
    assert config.web == dataclasses.replace(WebConfig())
    assert config.mail.transport == "directory"


async def test_one_kiosk_hint_for_wrong_locked_and_missing_pins(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    page = await open_page(nursery, tmp_path, sqlite_url, kiosk_hint=HINT)
    try:
        kiosk = await page.server.logged_in()
        async with kiosk:
            messages = []
            for barcode, pin in [(ALICE[0], "0000")] * 5 + [(ALICE[0], ALICE[1]), (NOPIN, "1")]:
                reply = (await kiosk.patron_status(barcode, pin)).message
                messages.append(" ".join(getattr(reply, "screen_message", ())))
        # Wrong (x5, the fifth locks), locked, no PIN: all the same text.
        assert set(messages) == {HINT}
    finally:
        await page.http.aclose()
        page.server.daemon.stop()
