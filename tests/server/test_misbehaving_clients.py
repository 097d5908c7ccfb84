"""Clients that never read, and more clients than the process has descriptors (issue #15 items
3 and 4): each is dropped or refused by rule, and the daemon keeps serving everyone else.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

from sip2d.client import ClientError, SipClient
from sip2d.protocol import ACSStatus
from tests.server.conftest import make_config, seed, start
from tests.server.robust_tools import log_entries
from tests.server.test_logs import captured_log

PIPELINED_99 = b"9900302.00\r" * 10_000


async def _never_reading_client(host: str, port: int) -> trio.SocketStream:
    """A connection whose receive buffer is as small as the kernel allows, and never read."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect((host, port))
    return trio.SocketStream(sock)


async def _send_until_blocked(stream: trio.SocketStream, data: bytes) -> None:
    # The daemon may close the connection before it has taken every byte.
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(data)


async def test_client_that_never_reads_is_dropped_and_its_slot_freed(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    """10,000 pipelined 99s, never reading: dropped by the send timeout, not the login one."""
    config = make_config(
        tmp_path, sqlite_url, send_timeout=0.5, login_timeout=3600.0, idle_timeout=3600.0
    )
    seed(config)
    running = await start(nursery, config)
    ctx = running.daemon.ctx
    with captured_log(logging.INFO) as log:
        streams = [await _never_reading_client(running.host, running.port) for _ in range(3)]
        async with trio.open_nursery() as senders:
            for stream in streams:
                senders.start_soon(_send_until_blocked, stream, PIPELINED_99)
            # Meanwhile another kiosk is answered as usual.
            other = await running.client()
            assert isinstance((await other.sc_status()).message, ACSStatus)
            with trio.fail_after(20):  # a guard against hanging, not a measurement
                while len(ctx.connections) > 1:
                    await trio.sleep(0.05)
            for stream in streams:
                await stream.aclose()
    reasons = [e["reason"] for e in log_entries(log.getvalue()) if e["event"] == "disconnect"]
    assert reasons.count("send timeout") == 3
    assert ctx.connections_per_address == {"127.0.0.1": 1}  # only the one still connected
    assert isinstance((await other.sc_status()).message, ACSStatus)
    running.daemon.stop()


async def _answered_or_closed(host: str, port: int, keep: list[SipClient]) -> str:
    """ "answered" (a 98), or "closed" when the daemon refuses the connection by closing it.

    An answered connection is kept open (in ``keep``), so its slot stays taken.
    """
    try:
        client = await SipClient.connect(host, port, timeout=10)
    except OSError:
        return "connect failed"
    keep.append(client)
    try:
        reply = await client.sc_status()
        return "answered" if isinstance(reply.message, ACSStatus) else "other"
    except (ClientError, trio.BrokenResourceError) as exc:
        return "closed" if "no response" not in str(exc) else "hung"


def _limit_open_files(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class _Stderr:
    """The daemon's JSON log lines, read as they come (a full pipe would stall the daemon)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.lines: list[dict[str, Any]] = []
        self.text = b""

    async def read(self) -> None:
        buffer = b""
        while data := await self.stream.receive_some(65536):
            self.text += data
            *complete, buffer = (buffer + data).split(b"\n")
            self.lines += [json.loads(line) for line in complete if line.startswith(b"{")]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [entry for entry in self.lines if entry["event"] == name]


async def test_open_file_limit_raised_and_connections_capped(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    config = make_config(tmp_path, sqlite_url)
    seed(config)
    config_file = tmp_path / "sip2d.toml"
    config_file.write_text(
        f'[[listener]]\naddress = "127.0.0.1:0"\n[database]\nurl = "{sqlite_url}"\npool_size = 4\n'
        f'[auth]\npepper_file = "{config.auth.pepper_file}"\n'
        '[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n[logging]\nformat = "json"\n'
        "[server]\nmax_connections = 20000\n",
        encoding="utf-8",
    )
    # Started with a soft limit of 256 under a hard limit of 512.
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "sip2d", "--config", str(config_file), "serve"],
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: _limit_open_files(256, 512),
    )
    assert process.stderr is not None
    stderr = _Stderr(process.stderr)
    nursery.start_soon(stderr.read)
    with trio.fail_after(20):  # guards against a hang; not a measurement
        while not stderr.events("listening"):
            await trio.sleep(0.05)
    port = int(stderr.events("listening")[0]["port"])
    limits = Path(f"/proc/{process.pid}/limits").read_text()
    assert re.search(r"Max open files\s+512\s+512", limits), limits
    warnings = [e for e in stderr.lines if e["level"] == "warning" and "max_connections" in e]
    assert len(warnings) == 1
    assert warnings[0]["max_connections"] == 20000 and warnings[0]["open_file_limit"] == 512
    allowed = int(warnings[0]["lowered_to"])
    assert 0 < allowed < 512

    # All but ten slots taken (each answered once, so the daemon holds it), then thirty more
    # kiosks at once: ten answered, twenty refused by closing, none left hanging.
    held: list[SipClient] = []

    async def hold_one() -> None:
        client = await SipClient.connect("127.0.0.1", port, timeout=10)
        held.append(client)
        assert isinstance((await client.sc_status()).message, ACSStatus)

    async with trio.open_nursery() as opening:
        for _ in range(allowed - 10):
            opening.start_soon(hold_one)
    outcomes: list[str] = []
    async with trio.open_nursery() as asking:
        for _ in range(30):
            asking.start_soon(_record, outcomes, port, held)
    assert sorted(outcomes) == ["answered"] * 10 + ["closed"] * 20, outcomes
    for client in held:
        await client.aclose()
    process.terminate()
    with trio.fail_after(15):
        assert await process.wait() == 0
    assert b"Traceback" not in stderr.text
    assert not [e for e in stderr.lines if e["event"] == "accept failed"]


async def _record(outcomes: list[str], port: int, keep: list[SipClient]) -> None:
    outcomes.append(await _answered_or_closed("127.0.0.1", port, keep))


async def test_client_that_pipelines_and_reads_must_still_log_in(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    """100,000 99s in one go, answers read as they come, never a 93: the connection never
    waits for input, yet the login clock ends it long before the last frame is answered."""
    config = make_config(tmp_path, sqlite_url, login_timeout=0.2)
    seed(config)
    running = await start(nursery, config)
    stream = await trio.open_tcp_stream(running.host, running.port)
    frames = 100_000
    answered = 0
    with captured_log(logging.INFO) as log:
        async with trio.open_nursery() as sender:
            sender.start_soon(_send_until_blocked, stream, b"9900302.00\r" * frames)
            with trio.fail_after(30):  # a guard against hanging, not a measurement
                while data := await _receive_or_reset(stream):
                    answered += data.count(b"\r")
            sender.cancel_scope.cancel()
    await stream.aclose()
    assert 0 < answered < frames
    reasons = [e["reason"] for e in log_entries(log.getvalue()) if e["event"] == "disconnect"]
    assert reasons == ["login timeout"]
    running.daemon.stop()


async def _receive_or_reset(stream: trio.SocketStream) -> bytes:
    try:
        return await stream.receive_some(65536)
    except trio.BrokenResourceError:
        return b""  # closed with unread input: the kernel resets the connection
