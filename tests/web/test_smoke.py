from __future__ import annotations

from tests.server.conftest import ALICE
from tests.web.conftest import Page


async def test_forgot_mails_a_link_that_sets_a_pin(page: Page) -> None:
    link = await page.request_link()
    assert link.startswith(page.base + "/pin/reset?token=")
    first = await page.http.get(link.removeprefix(page.base))
    assert first.status_code == 303
    form = await page.http.get("/pin/reset")
    assert form.status_code == 200
    done = await page.post("/pin/reset", new_pin="5831", new_pin_again="5831")
    assert done.status_code == 200, done.text
    assert "saved" in done.text
    client = await page.server.logged_in()
    async with client:
        new = (await client.patron_status(ALICE[0], "5831")).message
        old = (await client.patron_status(ALICE[0], ALICE[1])).message
    assert getattr(new, "valid_patron_password", None) is True
    assert getattr(old, "valid_patron_password", None) is False
