"""Database outage and recovery, SIGTERM drain, TLS listeners: the daemon keeps its promises."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trustme
from sqlalchemy.engine import make_url

from sip2d.client import ClientError, SipClient
from sip2d.config import ListenerConfig
from sip2d.protocol import ACSStatus, CheckoutResponse, PatronStatusResponse
from sip2d.server.logs import JsonFormatter
from tests.auth.secret_scan import assert_secret_absent
from tests.server.conftest import ALICE, ITEMS, KIOSK, make_config, seed, start


class CuttableProxy:
    """A TCP proxy to PostgreSQL that a test can cut and restore, like a network failure."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.scope: trio.CancelScope | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as self.scope:
            listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
            self.port = listeners[0].socket.getsockname()[1]
            task_status.started()
            await trio.serve_listeners(self._pipe, listeners)

    async def _pipe(self, client: trio.SocketStream) -> None:
        server = await trio.open_tcp_stream("127.0.0.1", self.target_port)

        async def copy(source: trio.SocketStream, sink: trio.SocketStream) -> None:
            try:
                while data := await source.receive_some(65536):
                    await sink.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                await trio.aclose_forcefully(sink)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(copy, client, server)
            nursery.start_soon(copy, server, client)

    def cut(self) -> None:
        assert self.scope is not None
        self.scope.cancel()


async def test_database_outage_then_recovery(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    seed(make_config(tmp_path, postgres_url))
    proxy = CuttableProxy(make_url(postgres_url).port or 5432)
    await nursery.start(proxy.run)
    via_proxy = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    config = make_config(tmp_path, via_proxy, health_check_interval=0.2)
    running = await start(nursery, config)
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("sip2d").addHandler(handler)
    client = await running.logged_in()
    assert (await client.patron_status(ALICE[0], ALICE[1])).message.valid_patron  # type: ignore[attr-defined]

    proxy.cut()
    refused = (await client.checkout(ALICE[0], ITEMS[0], ALICE[1])).message
    assert isinstance(refused, CheckoutResponse) and refused.ok is False
    assert "not available" in refused.screen_message[0]
    offline = (await client.sc_status()).message
    assert isinstance(offline, ACSStatus) and offline.online_status is False
    other = await SipClient.connect(running.host, running.port)
    assert (await other.sc_status()).message.MESSAGE_ID == "98"  # still serving connections

    await nursery.start(proxy.run)  # the database comes back on the same port
    with trio.fail_after(15):
        while not (await client.sc_status()).message.online_status:  # type: ignore[attr-defined]
            await trio.sleep(0.1)
    back = (await client.checkout(ALICE[0], ITEMS[0], ALICE[1])).message
    assert isinstance(back, CheckoutResponse) and back.ok is True
    running.daemon.stop()
    logging.getLogger("sip2d").removeHandler(handler)
    # The failing database produced errors in the log, and never the PIN or the password.
    assert '"event": "database unavailable"' in captured.getvalue()
    # #17 item 9: each names the driver's reason, not only the exception class.
    errors = [
        json.loads(line)["error"]
        for line in captured.getvalue().splitlines()
        if '"event": "database' in line and '"error"' in line
    ]
    assert errors and all(": " in error and len(error) > 30 for error in errors), errors
    assert_secret_absent(ALICE[1], captured.getvalue())
    assert_secret_absent(KIOSK[1], captured.getvalue())


async def test_tls_listener(nursery: trio.Nursery, tmp_path: Path, sqlite_url: str) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    config = make_config(tmp_path, sqlite_url)
    config = dataclasses.replace(
        config,
        listeners=[
            ListenerConfig(
                address="127.0.0.1:0", tls=True, cert_file=str(cert_file), key_file=str(key_file)
            )
        ],
    )
    seed(config)
    running = await start(nursery, config)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = await SipClient.connect(
        running.host, running.port, tls=context, server_hostname="localhost"
    )
    assert await client.login(*KIOSK)
    reply = (await client.patron_status(ALICE[0], ALICE[1])).message
    assert isinstance(reply, PatronStatusResponse) and reply.valid_patron_password is True
    await client.aclose()
    plain = await SipClient.connect(running.host, running.port, timeout=2)
    with pytest.raises((ClientError, trio.BrokenResourceError)):
        await plain.login(*KIOSK)  # plain SIP2 on a TLS port gets no SIP2 answer
    running.daemon.stop()


async def test_sigterm_drains_and_exits_zero(tmp_path: Path, sqlite_url: str) -> None:
    config = make_config(tmp_path, sqlite_url)
    seed(config)
    config_file = tmp_path / "sip2d.toml"
    config_file.write_text(
        f'[[listener]]\naddress = "127.0.0.1:0"\n[database]\nurl = "{sqlite_url}"\n'
        f'[auth]\npepper_file = "{config.auth.pepper_file}"\n'
        '[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n[logging]\nformat = "json"\n',
        encoding="utf-8",
    )
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "sip2d", "--config", str(config_file), "serve"],
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    port = 0
    log = b""
    with trio.fail_after(20):
        while not port:
            log += await process.stderr.receive_some(4096)
            for line in log.splitlines():
                if b'"event": "listening"' in line:
                    port = int(line.split(b'"port": ')[1].split(b"}")[0].split(b",")[0])
    client = await SipClient.connect("127.0.0.1", port)
    assert await client.login(*KIOSK)
    process.send_signal(signal.SIGTERM)
    with trio.fail_after(15):
        code = await process.wait()
    assert code == 0
    with pytest.raises((ClientError, trio.BrokenResourceError)):
        await client.sc_status()
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)
