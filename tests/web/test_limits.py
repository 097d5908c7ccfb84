"""/pin/forgot answers alike whatever the card, and every limit on reset mails holds."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import httpx
import trio
from sqlalchemy import update

from sip2d.storage.connect import open_engine
from sip2d.storage.models import patrons
from sip2d.storage.sqltime import stored_now
from tests.server.conftest import ALICE, BOB
from tests.web.conftest import Page, open_page

UNKNOWN = "999999"


def set_patron(page: Page, barcode: str, **values: object) -> None:
    engine = open_engine(page.config.database)
    try:
        with engine.begin() as conn:
            conn.execute(update(patrons).where(patrons.c.barcode == barcode).values(**values))
    finally:
        engine.dispose()


def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], str]:
    headers = sorted((k, v) for k, v in response.headers.items() if k != "date")
    return response.status_code, headers, response.text


async def test_forgot_answers_the_same_for_every_kind_of_card(page: Page) -> None:
    token = await page.csrf("/pin/forgot")

    async def ask(card: str) -> httpx.Response:
        return await page.http.post("/pin/forgot", data={"csrf": token, "card": card})

    with_email = await ask(ALICE[0])
    pending = await ask(ALICE[0])
    unknown = await ask(UNKNOWN)
    no_email = await ask(BOB[0])
    await trio.to_thread.run_sync(
        lambda: set_patron(
            page, ALICE[0], pin_failures=9, pin_locked_until=stored_now() + timedelta(hours=1)
        )
    )
    page.shift_clock(timedelta(minutes=6))
    locked = await ask(ALICE[0])
    answers = [comparable(r) for r in (with_email, pending, unknown, no_email, locked)]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][0] == 200
    assert "set-cookie" not in dict(answers[0][1])
    assert "If this card has an e-mail address on file we have sent a link" in with_email.text
    await page.settle()
    # Alice got a mail for the first request and the locked one; nobody else got any.
    assert [m["To"] for m in page.mails()] == ["alice@example.org"] * 2


async def test_one_mail_per_interval_and_five_a_day(page: Page) -> None:
    for minutes in range(0, 60, 6):
        page.shift_clock(timedelta(minutes=minutes))
        for _ in range(2):  # the second within the interval is dropped
            assert (await page.post("/pin/forgot", card=ALICE[0])).status_code == 200
        await page.settle()
    assert len(page.mails()) == page.config.web.mails_per_patron_per_day


async def test_at_most_three_live_links(page: Page) -> None:
    links = []
    for step in range(4):
        page.shift_clock(timedelta(minutes=6 * step))
        links.append(await page.request_link())
    statuses = []
    for link in links:
        async with httpx.AsyncClient(base_url=page.base) as browser:
            statuses.append((await browser.get(link.removeprefix(page.base))).status_code)
    assert statuses == [400, 303, 303, 303]


async def test_per_address_limit_drops_requests_before_any_lookup(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    page = await open_page(nursery, tmp_path, sqlite_url, forgot_per_address=3)
    try:
        for card in ("1", "2", "3"):
            await page.post("/pin/forgot", card=card)
        response = await page.post("/pin/forgot", card=ALICE[0])
        assert response.status_code == 200
        await page.settle()
        assert page.mails() == []
    finally:
        await page.http.aclose()
        page.server.daemon.stop()


async def test_global_mail_cap(nursery: trio.Nursery, tmp_path: Path, database_url: str) -> None:
    page = await open_page(nursery, tmp_path, database_url, mail={"max_per_hour": 1})
    try:
        await trio.to_thread.run_sync(lambda: set_patron(page, BOB[0], email="bob@example.org"))
        await page.request_link(ALICE[0])
        assert (await page.post("/pin/forgot", card=BOB[0])).status_code == 200
        await page.settle()
        assert [m["To"] for m in page.mails()] == ["alice@example.org"]
    finally:
        await page.http.aclose()
        page.server.daemon.stop()


async def test_forgot_answers_before_the_card_is_looked_up(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    """Why the answer takes as long for every card: it never waits for the database. With
    the database's write lock held elsewhere the page still answers; the link is made once
    the lock is released."""
    page = await open_page(nursery, tmp_path, sqlite_url)
    try:
        token = await page.csrf("/pin/forgot")
        blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with trio.fail_after(4):  # below the 5 s busy timeout the worker waits for
                response = await page.http.post(
                    "/pin/forgot", data={"csrf": token, "card": ALICE[0]}
                )
            assert response.status_code == 200
            assert page.mails() == []
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await page.settle()
        assert [m["To"] for m in page.mails()] == ["alice@example.org"]
    finally:
        await page.http.aclose()
        page.server.daemon.stop()
