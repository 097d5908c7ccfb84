"""Mail over real SMTP (an aiosmtpd sink in a thread, plain and STARTTLS), the directory
transport, a relay that is down (same page, retried, counted) and ``sip2d mail test``."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from prometheus_client import generate_latest
from sqlalchemy import Connection, select

from sip2d.cli import main
from sip2d.config import MailConfig
from sip2d.mail import render
from sip2d.mail.sender import backoff
from sip2d.mail.transport import MailError, SmtpTransport
from sip2d.storage.models import mail_outbox
from tests.server.conftest import ALICE
from tests.web.conftest import LINK_RE, free_port, open_page


class Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def starttls_sink(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[Sink, int, Path]]:
    sink = Sink()
    port = free_port()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield sink, port, ca_file
    controller.stop()


async def test_reset_link_over_smtp(
    nursery: trio.Nursery, tmp_path: Path, database_url: str, smtp_sink: tuple[Sink, int]
) -> None:
    sink, port = smtp_sink
    mail = {"transport": "smtp", "smtp_port": port, "smtp_host": "127.0.0.1"}
    page = await open_page(nursery, tmp_path, database_url, mail | {"smtp_security": "none"})
    try:
        assert (await page.post("/pin/forgot", card=ALICE[0])).status_code == 200
        await page.settle()
        assert len(sink.messages) == 1
        text = sink.messages[0].decode().replace("=\r\n", "").replace("=3D", "=")
        assert LINK_RE.search(text) is not None
        assert "ending in 1001" in text
    finally:
        await page.http.aclose()
        page.server.daemon.stop()


def test_starttls_with_the_relay_certificate(starttls_sink: tuple[Sink, int, Path]) -> None:
    sink, port, ca_file = starttls_sink
    cfg = dataclasses.replace(
        MailConfig(), transport="smtp", smtp_host="127.0.0.1", smtp_port=port,
        smtp_security="starttls", smtp_ca_file=str(ca_file),
    )  # fmt: skip
    text = render.test_text("en", library="Test Library")
    SmtpTransport(cfg).send(render.as_message(text, sender="a@b.example", to="c@d.example",
                                              now=render_now()))  # fmt: skip
    assert len(sink.messages) == 1
    untrusted = dataclasses.replace(cfg, smtp_ca_file="")
    with pytest.raises(MailError, match="SSL"):
        SmtpTransport(untrusted).send(
            render.as_message(text, sender="a@b.example", to="c@d.example", now=render_now())
        )


def render_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_relay_down_same_page_retried_and_counted(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": free_port()}
    page = await open_page(nursery, tmp_path, sqlite_url, mail | {"smtp_security": "none"})
    try:
        response = await page.post("/pin/forgot", card=ALICE[0])
        assert response.status_code == 200 and "we have sent a link" in response.text
        await page.web.flows.drained()

        def outbox(conn: Connection) -> list[Any]:
            return list(conn.execute(select(mail_outbox)).mappings().all())

        with trio.fail_after(10):
            while not (rows := await page.web.flows.db.read(outbox))[0]["last_error"]:
                await page.web.sender.deliver_due()
                await trio.sleep(0.02)
        (row,) = rows
        assert row["sent_at"] is None and row["failed_at"] is None
        assert row["attempts"] >= 1 and row["last_error"].startswith("SMTP")
        assert row["next_attempt_at"] > row["created_at"]
        metrics = generate_latest(page.server.daemon.ctx.metrics.registry).decode()
        assert "sip2d_mail_failures_total 1.0" in metrics
    finally:
        await page.http.aclose()
        page.server.daemon.stop()


def test_backoff_grows_to_an_hour() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert backoff(30) == timedelta(hours=1)


def test_mail_test_command(tmp_path: Path, smtp_sink: tuple[Sink, int]) -> None:
    sink, port = smtp_sink
    config = tmp_path / "sip2d.toml"
    config.write_text(
        f'[mail]\ntransport = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
        'smtp_security = "none"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "mail", "test", "x@example.org"])
    assert result.exit_code == 0, result.output
    assert len(sink.messages) == 1 and b"mail delivery works" in sink.messages[0]
    down = tmp_path / "down.toml"
    down.write_text(
        f'[mail]\ntransport = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {free_port()}\n'
        'smtp_security = "none"\n',
        encoding="utf-8",
    )
    result = runner.invoke(main, ["--config", str(down), "mail", "test", "x@example.org"])
    assert result.exit_code == 1 and "test mail not sent" in result.output
    assert "Traceback" not in result.output
