"""Headers, CSRF, escaping, secrets kept out of the database, logs and metrics, and hostile
form input (hypothesis) answered without a server error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from sip2d.web import forms
from tests.auth.secret_scan import assert_secret_absent
from tests.conftest import sqlite_url_for
from tests.server.conftest import ALICE, seed
from tests.web.conftest import CSRF_RE, Page, open_page, serve_in_thread, web_config

NEW_PIN = "58316294"


async def test_every_answer_carries_the_security_headers(page: Page) -> None:
    for response in (
        await page.http.get("/pin/forgot"),
        await page.http.get("/pin/nowhere"),
        await page.http.post("/pin/change", data={"card": "1"}),
        await page.http.get("/pin/static/style.css"),
    ):
        headers = response.headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in headers  # the base URL is http here
    page_html = (await page.http.get("/pin/change")).text
    assert "<script" not in page_html and "style=" not in page_html


async def test_https_base_url_adds_hsts_and_secure_host_cookies(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    page = await open_page(nursery, tmp_path, sqlite_url, base_url="https://pin.example")
    try:
        response = await page.http.get("/pin/forgot")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-pin_csrf=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    finally:
        await page.http.aclose()
        page.server.daemon.stop()


async def test_posts_without_a_valid_csrf_proof_are_refused(page: Page) -> None:
    token = await page.csrf("/pin/forgot")
    fields = {"card": ALICE[0]}
    cases = [
        ({**fields}, {}),
        ({**fields, "csrf": "1.deadbeef"}, {}),
        ({**fields, "csrf": token[:-1] + ("0" if token[-1] != "0" else "1")}, {}),
        ({**fields, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
        ({**fields, "csrf": token}, {"Sec-Fetch-Site": "same-site"}),
        ({**fields, "csrf": token}, {"Origin": "https://evil.example"}),
        ({**fields, "csrf": token}, {"Origin": "null", "Sec-Fetch-Site": "cross-site"}),
    ]
    for data, headers in cases:
        response = await page.http.post("/pin/forgot", data=data, headers=headers)
        assert response.status_code == 403, (data.keys(), headers)
        assert "expired or did not come from this page" in response.text
    # A token is bound to its cookie: another browser's token does not pass.
    async with httpx.AsyncClient(base_url=page.base) as other:
        response = await other.post("/pin/forgot", data={**fields, "csrf": token})
        assert response.status_code == 403
    ok = await page.http.post(
        "/pin/forgot",
        data={**fields, "csrf": token},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": page.base},
    )
    assert ok.status_code == 200
    await page.settle()
    assert len(page.mails()) == 1


async def test_what_a_visitor_types_comes_back_escaped(page: Page) -> None:
    hostile = '"><script>alert(1)</script>'
    response = await page.post(
        "/pin/change", card=hostile, current_pin="1", new_pin="1", new_pin_again="1"
    )
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


async def test_no_token_or_pin_in_database_logs_or_metrics(
    page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    link = await page.request_link()
    token = link.split("token=", 1)[1]
    await page.http.get(link.removeprefix(page.base))
    assert (await page.post("/pin/reset", new_pin=NEW_PIN, new_pin_again=NEW_PIN)).is_success
    other = "61947253"
    changed = await page.post(
        "/pin/change", card=ALICE[0], current_pin=NEW_PIN, new_pin=other, new_pin_again=other
    )
    assert changed.status_code == 200
    await page.settle()
    metrics = generate_latest(page.server.daemon.ctx.metrics.registry)
    assert b"sip2d_mail_sent_total" in metrics
    # The server's own log lines (the test's HTTP client logs the URLs it fetches).
    ours = "\n".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if r.name.startswith(("sip2d", "hypercorn"))
    )
    assert "mail sent" in ours
    haystacks: list[bytes | str | Path] = [ours, metrics]
    if page.config.database.url.startswith("sqlite"):
        haystacks.append(Path(page.config.database.url.removeprefix("sqlite:///")))
    for secret in (token, NEW_PIN, other):
        assert_secret_absent(secret, *haystacks)
    # The mail is the one place the token is.
    assert any(token in link for link in page.links())


@pytest.fixture(scope="module")
def threaded_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A page served from its own thread: a synchronous hypothesis test sends it many examples
    without a server per example. Yields its base URL."""
    tmp_path = tmp_path_factory.mktemp("threaded")
    config = web_config(tmp_path, sqlite_url_for(tmp_path))
    seed(config)
    with serve_in_thread(config):
        yield f"http://{config.web.listen}"


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(["/pin/forgot", "/pin/reset", "/pin/change", "/pin/setup"]),
    values=st.dictionaries(
        st.sampled_from(["card", "code", "current_pin", "new_pin", "new_pin_again", "x"]),
        st.text(max_size=80) | st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
        max_size=6,
    ),
)
def test_any_form_input_gets_a_page_not_an_error(
    threaded_page: str, path: str, values: dict[str, str]
) -> None:
    with httpx.Client(base_url=threaded_page, timeout=30) as http:
        token = CSRF_RE.search(http.get(path).text)
        assert token is not None
        response = http.post(path, data={"csrf": token.group(1), **values})
    assert response.status_code in (200, 400), response.status_code
    assert "Traceback" not in response.text
    assert response.headers["content-type"].startswith("text/html")


@given(st.binary(max_size=2 * forms.MAX_BODY))
def test_parse_form_never_raises_on_bytes(body: bytes) -> None:
    try:
        parsed = forms.parse_form(body)
    except forms.BodyTooLarge:
        assert len(body) > forms.MAX_BODY
        return
    assert len(parsed) <= forms.MAX_FIELDS
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())


async def test_oversized_body_is_refused(page: Page) -> None:
    token = await page.csrf("/pin/forgot")
    response = await page.http.post(
        "/pin/forgot", data={"csrf": token, "card": "1" * (forms.MAX_BODY + 10)}
    )
    assert response.status_code == 413
