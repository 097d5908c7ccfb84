"""A real daemon with the PIN page on a real Hypercorn socket, on each engine.

``page`` starts the daemon of tests/server/conftest.py with ``[web] listen`` on a free port
(the base URL must name that port before the page starts, as a browser's ``Origin`` is checked
against it) and the directory mail transport, and hands tests an httpx client, the outbox
directory and helpers to read mails and links.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from click.testing import CliRunner, Result
from sqlalchemy import Connection, func, select

from sip2d.cli import main
from sip2d.config import Config, MailConfig, WebConfig
from sip2d.server.build import build_context
from sip2d.server.daemon import Daemon
from sip2d.storage.models import mail_outbox
from sip2d.storage.sqltime import stored_now
from sip2d.web.serve import WebParts
from tests.server.conftest import ALICE, Running, make_config, seed, start

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
LINK_RE = re.compile(r"(https?://\S+/pin/reset\?token=[A-Za-z0-9_-]+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def web_config(tmp_path: Path, url: str, mail: dict[str, Any] | None = None, **web: Any) -> Config:
    config = make_config(tmp_path, url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return dataclasses.replace(
        config,
        web=dataclasses.replace(
            WebConfig(),
            listen=f"127.0.0.1:{port}",
            **({"base_url": base, "library_name": "Test Library"} | web),
            allow_insecure_base_url=True,
        ),
        mail=dataclasses.replace(
            MailConfig(),
            **({"transport": "directory", "directory": str(tmp_path / "mail")} | (mail or {})),
        ),
        # Eight-digit PINs: long enough that a leak scan cannot match them by chance.
        pin_policy=dataclasses.replace(config.pin_policy, max_length=8),
    )


@dataclasses.dataclass
class Page:
    server: Running
    config: Config
    base: str
    http: httpx.AsyncClient
    mail_dir: Path

    @property
    def web(self) -> WebParts:
        parts: WebParts = self.server.daemon.web
        return parts

    async def csrf(self, path: str) -> str:
        response = await self.http.get(path)
        found = CSRF_RE.search(response.text)
        assert found is not None, response.text
        return found.group(1)

    async def post(self, path: str, **fields: str) -> httpx.Response:
        token = await self.csrf(path)
        return await self.http.post(path, data={"csrf": token, **fields})

    def shift_clock(self, delta: timedelta) -> None:
        """Move the page's clock (and its mail sender's) ``delta`` from real time."""
        self.web.flows.clock = lambda: stored_now() + delta
        self.web.sender.clock = lambda: stored_now() + delta

    async def settle(self) -> None:
        """Wait for queued link requests and for every mail they queued to be handed over."""
        await self.web.flows.drained()
        with trio.fail_after(20):
            while await self.unsent():
                await self.web.sender.deliver_due()
                await trio.sleep(0.01)

    async def unsent(self) -> int:
        def count(conn: Connection) -> int:
            return int(
                conn.execute(
                    select(func.count()).where(
                        mail_outbox.c.sent_at.is_(None), mail_outbox.c.failed_at.is_(None)
                    )
                ).scalar_one()
            )

        return await self.web.flows.db.read(count)

    def mails(self) -> list[Message]:
        if not self.mail_dir.exists():
            return []
        files = sorted(self.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes()) for p in files]

    def links(self) -> list[str]:
        found = []
        for message in self.mails():
            body = message.get_payload(decode=True)
            assert isinstance(body, bytes)
            found += LINK_RE.findall(body.decode())
        return found

    def config_file(self) -> Path:
        """The page's configuration as a file, for CLI commands run against it."""
        path = self.mail_dir.parent / "sip2d.toml"
        cfg = self.config
        path.write_text(
            f"[database]\nurl = {cfg.database.url!r}\npool_size = 2\n\n"
            f"[auth]\npepper_file = {cfg.auth.pepper_file!r}\n\n"
            "[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n\n"
            "[pin_policy]\nmax_length = 8\n\n"
            f"[web]\nbase_url = {cfg.web.base_url!r}\nallow_insecure_base_url = true\n\n"
            f'[mail]\ntransport = "directory"\ndirectory = {cfg.mail.directory!r}\n',
            encoding="utf-8",
        )
        return path

    async def cli(self, *args: str, input: str | None = None) -> Result:
        """Run ``sip2d ARGS`` in a worker thread (commands may run trio themselves)."""
        config = self.config_file()
        env = {"SIP2D_DATABASE_URL": None, "SIP2D_CONFIG": None, "SIP2D_PEPPER": None}

        def run() -> Result:
            return CliRunner().invoke(main, ["--config", str(config), *args], input=input, env=env)

        return await trio.to_thread.run_sync(run)

    async def request_link(self, card: str = ALICE[0]) -> str:
        before = set(self.links())
        response = await self.post("/pin/forgot", card=card)
        assert response.status_code == 200
        await self.settle()
        new = [link for link in self.links() if link not in before]
        assert len(new) == 1, new
        return new[0]


async def open_page(
    nursery: trio.Nursery, tmp_path: Path, url: str, mail: dict[str, Any] | None = None, **web: Any
) -> Page:
    config = web_config(tmp_path, url, mail, **web)
    seed(config)
    server = await start(nursery, config)
    base = f"http://{config.web.listen}"
    http = httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=30)
    return Page(server, config, base, http, Path(config.mail.directory))


@pytest.fixture
async def page(nursery: trio.Nursery, tmp_path: Path, database_url: str) -> AsyncIterator[Page]:
    opened = await open_page(nursery, tmp_path, database_url)
    yield opened
    await opened.http.aclose()
    opened.server.daemon.stop()


@contextlib.contextmanager
def serve_in_thread(config: Config) -> Iterator[Daemon]:
    """Run a daemon (and its page) on its own trio loop in a thread, for synchronous tests
    (hypothesis, Selenium); stopped gracefully on exit."""
    ready = threading.Event()
    handles: dict[str, Any] = {}

    async def main() -> None:
        ctx = build_context(config)
        daemon = Daemon(ctx, handle_signals=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            handles.update(daemon=daemon, token=trio.lowlevel.current_trio_token())
            ready.set()

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    assert ready.wait(30), "the daemon did not start"
    try:
        yield handles["daemon"]
    finally:
        trio.from_thread.run_sync(handles["daemon"].stop, trio_token=handles["token"])
        thread.join(30)
