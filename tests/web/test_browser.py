"""The PIN page in a real browser: Debian's Chromium driven by Selenium through
``/usr/bin/chromedriver``, headless. Every flow is completed with the keyboard alone; axe-core
(from ``selenium-axe-python``, rules wcag2a, wcag2aa, wcag21aa) must report no violation on
any page state; the page must reflow at 320 px. The screenshots in docs/images/ come from
here.

Skipped, with the reason, only where the driver is missing and not under CI (``.ci/run``
installs ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import email
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sip2d.cli import main
from tests.conftest import sqlite_url_for
from tests.server.conftest import ALICE, NOPIN, seed
from tests.web.conftest import serve_in_thread, web_config

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21aa"]
NEW_PIN = "58316294"

if not (CHROMEDRIVER.exists() and CHROMIUM.exists()):
    reason = f"{CHROMEDRIVER} or {CHROMIUM} missing (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from selenium_axe_python import Axe  # noqa: E402


class Site:
    def __init__(self, base: str, config: Any, driver: WebDriver) -> None:
        self.base = base
        self.config = config
        self.driver = driver

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def focused_id(self) -> str:
        return str(self.driver.execute_script("return document.activeElement.id || ''"))

    def tab_to(self, element_id: str, limit: int = 25) -> None:
        """Press Tab from where the focus is until ``element_id`` has it."""
        body = self.driver.switch_to.active_element
        for _ in range(limit):
            if self.focused_id() == element_id:
                return
            body = self.driver.switch_to.active_element
            body.send_keys(Keys.TAB)
        raise AssertionError(f"Tab never reached #{element_id}")

    def type_into(self, element_id: str, text: str) -> None:
        self.tab_to(element_id)
        self.driver.switch_to.active_element.send_keys(text)

    def submit_with_enter(self) -> None:
        """Enter in a field submits its form; wait for the answer to replace the page."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.switch_to.active_element.send_keys(Keys.ENTER)
        WebDriverWait(self.driver, 20).until(expected_conditions.staleness_of(old))

    def audit(self, state: str) -> None:
        """axe-core on the page as it is now: no WCAG 2.1 A/AA violation."""
        axe = Axe(self.driver)
        axe.inject()
        options = {"runOnly": {"type": "tag", "values": AXE_RULES}}
        results = axe.run(options=options)
        assert results["passes"], f"{state}: axe-core checked nothing"
        assert results["violations"] == [], f"{state}: " + axe.report(results["violations"])
        # Reflow at 320 CSS pixels: nothing scrolls sideways.
        width = self.driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= self.driver.execute_script("return window.innerWidth"), state

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"pin-{name}.png"))

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "main").text)

    def last_link(self) -> str:
        files = sorted(Path(self.config.mail.directory).glob("*.eml"), key=os.path.getmtime)
        message = email.message_from_bytes(files[-1].read_bytes())
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        found = re.search(r"(http\S+/pin/reset\?token=[\w-]+)", body.decode())
        assert found is not None
        return found.group(1)


def make_driver(width: int, height: int) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp_path = tmp_path_factory.mktemp("browser")
    config = web_config(
        tmp_path,
        sqlite_url_for(tmp_path),
        library_name="Example City Library",
        help_text="Desk: Mon-Sat 9-18, phone 555-0100",
    )
    seed(config)
    driver = make_driver(800, 900)
    driver.set_script_timeout(30)
    try:
        with serve_in_thread(config):
            yield Site(f"http://{config.web.listen}", config, driver)
    finally:
        driver.quit()


def test_forgot_then_reset_by_keyboard(site: Site) -> None:
    site.open("/pin")
    site.audit("start page")
    site.screenshot("start")
    site.open("/pin/forgot")
    site.audit("forgot form")
    site.screenshot("forgot")
    site.tab_to("card")
    site.submit_with_enter()  # empty: an error naming the field
    assert "Enter your card number" in site.text()
    # The list of errors takes the focus, so a screen reader reads it first.
    assert site.focused_id() == "errors"
    site.audit("forgot form with an error")
    site.type_into("card", ALICE[0])
    site.submit_with_enter()
    assert "we have sent a link" in site.text()
    site.audit("forgot answer")
    site.screenshot("forgot-sent")
    link = _wait_for_link(site)
    site.driver.get(link)
    assert site.driver.current_url == site.base + "/pin/reset"
    site.audit("reset form")
    site.screenshot("reset")
    site.type_into("new_pin", "1111")
    site.type_into("new_pin_again", "1111")
    site.submit_with_enter()
    assert "must not be the same digit repeated" in site.text()
    site.audit("reset form with an error")
    site.screenshot("reset-error")
    site.type_into("new_pin", NEW_PIN)
    site.type_into("new_pin_again", NEW_PIN)
    site.submit_with_enter()
    assert "Your new PIN is saved" in site.text()
    site.audit("done")
    site.screenshot("done")
    site.driver.get(link)
    assert "no longer valid" in site.text()
    site.audit("used link")


def _wait_for_link(site: Site) -> str:
    import time

    for _ in range(200):
        if list(Path(site.config.mail.directory).glob("*.eml")):
            return site.last_link()
        time.sleep(0.05)
    raise AssertionError("no mail arrived")


def test_change_by_keyboard(site: Site) -> None:
    site.open("/pin/change")
    site.audit("change form")
    site.screenshot("change")
    site.type_into("card", ALICE[0])
    site.type_into("current_pin", "99999999")
    site.type_into("new_pin", "61947253")
    site.type_into("new_pin_again", "61947253")
    site.submit_with_enter()
    assert "was not accepted" in site.text()
    site.audit("change refused")
    site.screenshot("change-refused")
    site.type_into("current_pin", NEW_PIN)
    site.type_into("new_pin", "61947253")
    site.type_into("new_pin_again", "61947253")
    site.submit_with_enter()
    assert "Your new PIN is saved" in site.text()


def test_setup_code_by_keyboard(site: Site) -> None:
    config_file = Path(site.config.mail.directory).parent / "desk.toml"
    config_file.write_text(
        f"[database]\nurl = {site.config.database.url!r}\n\n"
        f"[auth]\npepper_file = {site.config.auth.pepper_file!r}\n\n"
        "[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["--config", str(config_file), "patron", "issue-setup-code", NOPIN]
    )
    assert result.exit_code == 0, result.output
    code = re.findall(r"[0-9A-Z]{5}-[0-9A-Z]{5}", result.output)[0]
    site.open("/pin/setup")
    site.audit("setup form")
    site.screenshot("setup")
    site.type_into("card", NOPIN)
    site.type_into("code", "AAAAA-AAAAA")
    site.type_into("new_pin", NEW_PIN)
    site.type_into("new_pin_again", NEW_PIN)
    site.submit_with_enter()
    assert "was not accepted" in site.text()
    site.audit("setup refused")
    site.type_into("code", code)
    site.type_into("new_pin", NEW_PIN)
    site.type_into("new_pin_again", NEW_PIN)
    site.submit_with_enter()
    assert "Your new PIN is saved" in site.text()


def test_german_and_narrow_screens(site: Site) -> None:
    site.open("/pin/forgot")
    old = site.driver.find_element(By.TAG_NAME, "html")
    site.driver.find_element(By.LINK_TEXT, "Deutsch").send_keys(Keys.ENTER)
    WebDriverWait(site.driver, 20).until(expected_conditions.staleness_of(old))
    assert "Ausweisnummer" in site.text()
    site.audit("forgot form in German")
    site.screenshot("forgot-de")
    site.driver.set_window_size(320, 800)
    for path in ("/pin", "/pin/forgot", "/pin/change", "/pin/setup", "/pin/reset"):
        site.open(path)
        site.audit(f"{path} at 320 px")
    site.screenshot("reset-320px-de")
    site.driver.set_window_size(800, 900)
    site.open("/pin/language?to=en&back=/pin")
