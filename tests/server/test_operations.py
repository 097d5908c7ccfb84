"""Timeouts, connection limits, listener options, reload and metrics of a running daemon."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import trio

from sip2d.client import ClientError, SipClient
from sip2d.config import ListenerConfig, MetricsConfig, load_config
from sip2d.protocol import ACSStatus, PatronStatusResponse
from tests.server.conftest import ALICE, KIOSK, make_config, seed, start


async def closed(client: SipClient, timeout: float = 5) -> bool:
    """True when the server closes the connection within ``timeout`` seconds."""
    with trio.move_on_after(timeout):
        try:
            while await client.stream.receive_some(4096):
                pass
        except trio.BrokenResourceError:
            pass
        return True
    return False


async def test_login_idle_and_partial_frame_timeouts(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    config = make_config(
        tmp_path, sqlite_url, login_timeout=0.5, idle_timeout=0.8, frame_timeout=0.3
    )
    seed(config)
    running = await start(nursery, config)
    never_logs_in = await running.client()
    assert await closed(never_logs_in)
    idle = await running.logged_in()
    assert await closed(idle)
    trickler = await running.logged_in()
    await trickler.send_raw(b"9900302")  # half a frame, then nothing
    assert await closed(trickler)
    # An active kiosk that keeps sending 99 stays connected past the idle timeout.
    active = await running.logged_in()
    for _ in range(6):
        await trio.sleep(0.25)
        assert (await active.sc_status()).message.MESSAGE_ID == "98"
    running.daemon.stop()


async def test_connection_limits(nursery: trio.Nursery, tmp_path: Path, sqlite_url: str) -> None:
    config = make_config(tmp_path, sqlite_url, max_connections=3, max_connections_per_address=2)
    seed(config)
    running = await start(nursery, config)
    first, second = await running.client(), await running.client()
    assert (await first.sc_status()).message.MESSAGE_ID == "98"
    assert (await second.sc_status()).message.MESSAGE_ID == "98"
    third = await running.client()
    assert await closed(third, timeout=2)  # a third from the same address is refused
    refused = running.daemon.ctx.metrics.connections_refused.labels("per_address")._value.get()
    assert refused == 1
    await first.aclose()
    await trio.sleep(0.1)
    fourth = await running.client()
    assert (await fourth.sc_status()).message.MESSAGE_ID == "98"
    running.daemon.stop()


async def test_listener_without_login_and_listener_refusing_99_before_93(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    config = make_config(tmp_path, sqlite_url)
    config = dataclasses.replace(
        config,
        listeners=[
            ListenerConfig(address="127.0.0.1:0", login_account=KIOSK[0]),
            ListenerConfig(address="127.0.0.1:0", allow_status_before_login=False),
        ],
    )
    seed(config)
    running = await start(nursery, config)
    bound_port, strict_port = running.daemon.addresses[0][1], running.daemon.addresses[1][1]
    no_login = await SipClient.connect("127.0.0.1", bound_port)
    reply = (await no_login.patron_status(ALICE[0], ALICE[1])).message
    assert isinstance(reply, PatronStatusResponse) and reply.valid_patron_password is True
    strict = await SipClient.connect("127.0.0.1", strict_port)
    status = (await strict.sc_status()).message
    assert isinstance(status, ACSStatus) and status.online_status is False
    assert status.screen_message == ("Please log in first.",)
    assert await strict.login(*KIOSK)
    status = (await strict.sc_status()).message
    assert isinstance(status, ACSStatus) and status.online_status is True
    running.daemon.stop()


async def test_sighup_reload_applies_new_settings(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    config = make_config(tmp_path, sqlite_url)
    seed(config)
    config_file = tmp_path / "sip2d.toml"
    base = (
        f'[database]\nurl = "{sqlite_url}"\n[auth]\npepper_file = "{config.auth.pepper_file}"\n'
        "[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n"
    )
    config_file.write_text(base + "[throttle]\nmax_failures = 5\n", encoding="utf-8")
    running = await start(
        nursery, dataclasses.replace(load_config(config_file), listeners=config.listeners)
    )
    running.daemon.config_path = str(config_file)
    client = await running.logged_in()
    config_file.write_text(base + "[throttle]\nmax_failures = 2\n", encoding="utf-8")
    running.daemon.reload()
    assert running.daemon.ctx.config.throttle.max_failures == 2
    await client.patron_status(ALICE[0], "1111")
    locked = (await client.patron_status(ALICE[0], "1111")).message
    assert isinstance(locked, PatronStatusResponse) and "PIN locked" in locked.screen_message[0]
    # A broken file is refused and the running configuration kept.
    config_file.write_text("[throttle]\nmax_failures = 'x'\n", encoding="utf-8")
    running.daemon.reload()
    assert running.daemon.ctx.config.throttle.max_failures == 2
    assert (await client.sc_status()).message.MESSAGE_ID == "98"  # connection survived
    running.daemon.stop()


async def http_get(port: int, path: str) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def test_metrics_and_healthz(nursery: trio.Nursery, tmp_path: Path, sqlite_url: str) -> None:
    config = dataclasses.replace(
        make_config(tmp_path, sqlite_url), metrics=MetricsConfig(listen="127.0.0.1:0")
    )
    seed(config)
    running = await start(nursery, config)
    client = await running.logged_in()
    await client.patron_status(ALICE[0], ALICE[1])
    await client.patron_status(ALICE[0], "1111")
    assert running.daemon.metrics_address is not None
    port = running.daemon.metrics_address[1]
    metrics = await http_get(port, "/metrics")
    assert metrics.startswith(b"HTTP/1.0 200")
    assert b'sip2d_messages_total{message="23",outcome="ok"} 1.0' in metrics
    assert b'sip2d_pin_failures_total{outcome="pin_wrong"} 1.0' in metrics
    assert b"sip2d_connections_open 1.0" in metrics
    # As a value of its own (label or sample), not as digits inside a measured latency.
    for pin in (ALICE[1], "1111"):
        assert not re.search(rb"(?<![\d.])" + pin.encode() + rb"(?![\d.])", metrics), pin
    assert (await http_get(port, "/healthz")).startswith(b"HTTP/1.0 200")
    assert (await http_get(port, "/nope")).startswith(b"HTTP/1.0 404")
    running.daemon.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_unknown_account_on_no_login_listener_gets_refusals(
    nursery: trio.Nursery, tmp_path: Path, database_url: str
) -> None:
    config = make_config(tmp_path, database_url)
    config = dataclasses.replace(
        config, listeners=[ListenerConfig(address="127.0.0.1:0", login_account="nobody")]
    )
    seed(config)
    running = await start(nursery, config)
    client = await running.client()
    reply = (await client.patron_status(ALICE[0], ALICE[1])).message
    assert isinstance(reply, PatronStatusResponse) and reply.valid_patron is False
    with pytest.raises(ClientError):
        await client.receive_frame(timeout=0.2)  # exactly one answer per request
    running.daemon.stop()
