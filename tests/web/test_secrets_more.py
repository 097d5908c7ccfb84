"""Token and code shape, a second daemon on the same PostgreSQL seeing a page's PIN change,
an e-mail change, and `sip2d web` as a process of its own."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import trio
from sqlalchemy import Connection, update

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.auth.pin_secrets import CODE_ALPHABET, SelfServiceKeys
from sip2d.config import Argon2Config
from sip2d.storage import selfservice
from sip2d.storage.models import patrons
from sip2d.storage.queries import get_patron_by_barcode
from sip2d.storage.sqltime import stored_now
from tests.server.conftest import ALICE, start
from tests.web.conftest import Page, free_port, open_page

CHEAP = Argon2Config(memory_kib=64, time_cost=1, parallelism=1)


def test_tokens_are_256_bit_unique_and_only_digests_are_comparable() -> None:
    keys = SelfServiceKeys(PinHasher(CHEAP, Pepper.generate()))
    tokens = {keys.token_for(keys.new_seed()) for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(len(t) == 43 for t in tokens)
    token = next(iter(tokens))
    digest = keys.token_digest(token)
    assert digest is not None and token not in digest and len(digest) == 64
    assert keys.token_digest(token[:-1]) is None and keys.token_digest(token + "x") is None
    other = SelfServiceKeys(PinHasher(CHEAP, Pepper.generate()))
    assert other.token_digest(token) != digest  # a different pepper, a different digest


def test_codes_have_fifty_bits_and_fold_what_people_type() -> None:
    keys = SelfServiceKeys(PinHasher(CHEAP, Pepper.generate()))
    codes = {keys.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        head, tail = code.split("-")
        assert len(head) == len(tail) == 5 and set(head + tail) <= set(CODE_ALPHABET)
    code = "0I1LO-ABCDE".replace("I", "1").replace("L", "1").replace("O", "0")
    assert keys.code_digest("42", "oi1lo abcde") == keys.code_digest("42", code)
    assert keys.code_digest("43", code) != keys.code_digest("42", code)  # bound to the card
    assert keys.code_digest("42", "short") is None


async def test_a_second_daemon_on_postgresql_sees_the_change(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    page = await open_page(nursery, tmp_path, postgres_url)
    second_config = dataclasses.replace(
        page.config, web=dataclasses.replace(page.config.web, listen="")
    )
    second = await start(nursery, second_config)
    kiosk = await second.logged_in()
    async with kiosk:
        ok = (await kiosk.patron_status(ALICE[0], ALICE[1])).message
        assert getattr(ok, "valid_patron_password", None) is True
        new = "58316294"
        response = await page.post(
            "/pin/change", card=ALICE[0], current_pin=ALICE[1], new_pin=new, new_pin_again=new
        )
        assert response.status_code == 200
        accepted = (await kiosk.patron_status(ALICE[0], new)).message
        refused = (await kiosk.patron_status(ALICE[0], ALICE[1])).message
    assert getattr(accepted, "valid_patron_password", None) is True
    assert getattr(refused, "valid_patron_password", None) is False
    second.daemon.stop()
    await page.http.aclose()
    page.server.daemon.stop()


async def test_an_email_change_warns_the_old_address_and_kills_links(page: Page) -> None:
    link = await page.request_link()
    now = stored_now()

    def change(conn: Connection) -> None:
        patron = get_patron_by_barcode(conn, ALICE[0])
        assert patron is not None
        selfservice.email_changed(conn, patron, "new@example.org", now=now, language="en")
        conn.execute(
            update(patrons).where(patrons.c.id == patron.id).values(email="new@example.org")
        )

    await page.web.flows.db.write(change)
    await page.settle()
    warned = [m for m in page.mails() if m["Subject"] == "Your e-mail address was changed"]
    assert [m["To"] for m in warned] == ["alice@example.org"]
    gone = await page.http.get(link.removeprefix(page.base))
    assert gone.status_code == 400


def test_sip2d_web_serves_the_page_alone(tmp_path: Path) -> None:
    port = free_port()
    pepper = tmp_path / "p.pepper"
    pepper.write_text(Pepper.generate().to_text() + "\n", encoding="ascii")
    pepper.chmod(0o600)
    config = tmp_path / "sip2d.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
        f'[auth]\npepper_file = "{pepper}"\n'
        f'[web]\nlisten = "127.0.0.1:{port}"\nbase_url = "https://pin.example"\n',
        encoding="utf-8",
    )
    sip2d = str(Path(sys.executable).parent / "sip2d")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIP2D_")}
    subprocess.run([sip2d, "--config", str(config), "db", "upgrade"], check=True, env=env)
    process = subprocess.Popen(
        [sip2d, "--config", str(config), "web"], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/pin/forgot", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert response.status_code == 200
        assert "strict-transport-security" in response.headers
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
