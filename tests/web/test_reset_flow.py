"""The mailed-link flow end to end over a real socket, on each engine: a link survives being
fetched, works once, expires, dies with any PIN change, and the kiosk sees the new PIN at once
(also on a connection that had verified the old one)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import trio

from sip2d.client import SipClient
from tests.server.conftest import ALICE
from tests.web.conftest import Page

NEW_PIN = "58316294"


async def open_link(http: httpx.AsyncClient, page: Page, link: str) -> httpx.Response:
    return await http.get(link.removeprefix(page.base))


async def pin_accepted(client: SipClient, pin: str) -> bool:
    reply = (await client.patron_status(ALICE[0], pin)).message
    return getattr(reply, "valid_patron_password", None) is True


async def test_link_sets_the_pin_the_kiosk_then_accepts(page: Page) -> None:
    kiosk = await page.server.logged_in()
    async with kiosk:
        # This connection verifies (and caches) the old PIN first.
        assert await pin_accepted(kiosk, ALICE[1])
        link = await page.request_link()
        assert link.startswith(page.base + "/pin/reset?token=")
        redirect = await open_link(page.http, page, link)
        assert redirect.status_code == 303
        assert redirect.headers["location"] == "/pin/reset"
        cookie = redirect.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=900" in cookie
        form = await page.http.get("/pin/reset")
        assert form.status_code == 200 and 'name="new_pin"' in form.text
        done = await page.post("/pin/reset", new_pin=NEW_PIN, new_pin_again=NEW_PIN)
        assert done.status_code == 200, done.text
        assert 'role="status"' in done.text
        assert await pin_accepted(kiosk, NEW_PIN)
        assert not await pin_accepted(kiosk, ALICE[1])
    fresh = await page.server.logged_in()
    async with fresh:
        assert await pin_accepted(fresh, NEW_PIN)
        assert not await pin_accepted(fresh, ALICE[1])


async def test_three_gets_leave_the_link_usable_and_it_works_once(page: Page) -> None:
    link = await page.request_link()
    for _ in range(3):
        async with httpx.AsyncClient(base_url=page.base) as scanner:
            assert (await open_link(scanner, page, link)).status_code == 303
    assert (await open_link(page.http, page, link)).status_code == 303
    done = await page.post("/pin/reset", new_pin=NEW_PIN, new_pin_again=NEW_PIN)
    assert done.status_code == 200
    again = await open_link(page.http, page, link)
    assert again.status_code == 400 and "no longer valid" in again.text


async def test_policy_errors_name_the_rule_and_keep_the_link(page: Page) -> None:
    link = await page.request_link()
    await open_link(page.http, page, link)
    weak = await page.post("/pin/reset", new_pin="1111", new_pin_again="1111")
    assert weak.status_code == 400
    assert "must not be the same digit repeated" in weak.text
    assert 'aria-invalid="true"' in weak.text
    differ = await page.post("/pin/reset", new_pin=NEW_PIN, new_pin_again="58316295")
    assert differ.status_code == 400 and "not the same" in differ.text
    done = await page.post("/pin/reset", new_pin=NEW_PIN, new_pin_again=NEW_PIN)
    assert done.status_code == 200


async def test_two_concurrent_posts_exactly_one_wins(page: Page) -> None:
    link = await page.request_link()
    clients = [httpx.AsyncClient(base_url=page.base, timeout=30) for _ in range(2)]
    tokens = []
    for client in clients:
        assert (await open_link(client, page, link)).status_code == 303
        form = await client.get("/pin/reset")
        tokens.append(form.text.split('name="csrf" value="')[1].split('"')[0])
    statuses: list[int] = []

    async def post(index: int) -> None:
        pin = ["58316294", "72950318"][index]
        response = await clients[index].post(
            "/pin/reset", data={"csrf": tokens[index], "new_pin": pin, "new_pin_again": pin}
        )
        statuses.append(response.status_code)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(post, 0)
        nursery.start_soon(post, 1)
    for client in clients:
        await client.aclose()
    assert sorted(statuses) == [200, 400]
    await page.settle()
    notices = [m for m in page.mails() if m["Subject"] == "Your PIN was changed"]
    assert len(notices) == 1


async def test_a_link_expires(page: Page) -> None:
    link = await page.request_link()
    page.shift_clock(timedelta(minutes=page.config.web.link_minutes, seconds=1))
    expired = await open_link(page.http, page, link)
    assert expired.status_code == 400 and "no longer valid" in expired.text


async def test_every_kind_of_pin_change_revokes_links(page: Page) -> None:
    # The page's own change.
    link = await page.request_link()
    changed = await page.post(
        "/pin/change",
        card=ALICE[0],
        current_pin=ALICE[1],
        new_pin=NEW_PIN,
        new_pin_again=NEW_PIN,
    )
    assert changed.status_code == 200, changed.text
    assert (await open_link(page.http, page, link)).status_code == 400
    # The CLI (staff set a PIN).
    page.shift_clock(timedelta(minutes=6))
    link = await page.request_link()
    result = await page.cli("patron", "set-pin", ALICE[0], "--pin-stdin", input="61947253\n")
    assert result.exit_code == 0, result.output
    assert (await open_link(page.http, page, link)).status_code == 400
    # An import that replaces the PIN hash.
    page.shift_clock(timedelta(minutes=12))
    link = await page.request_link()
    hasher = page.web.flows.gate.hasher
    csv = page.mail_dir.parent / "patrons.csv"
    csv.write_text(
        f'barcode,name,pin_hash\n{ALICE[0]},Alice Archer,"{hasher.hash("83920461")}"\n',
        encoding="utf-8",
    )
    result = await page.cli("import", "patrons", str(csv))
    assert result.exit_code == 0, result.output
    assert (await open_link(page.http, page, link)).status_code == 400


async def test_the_mailed_link_ignores_the_host_header(page: Page) -> None:
    token = await page.csrf("/pin/forgot")
    response = await page.http.post(
        "/pin/forgot",
        data={"csrf": token, "card": ALICE[0]},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 200
    await page.settle()
    (link,) = page.links()
    assert link.startswith(page.base + "/pin/reset?token=")
    assert "evil" not in "".join(str(m) for m in page.mails())
