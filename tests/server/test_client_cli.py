"""`sip2d client` as ops run it: a subprocess talking to a live daemon."""

from __future__ import annotations

import subprocess
import sys

import pytest
import trio

from tests.server.conftest import ALICE, ITEMS, KIOSK, Running

# The client is the same whatever the server's database; SQLite keeps these subprocesses cheap.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def sip2d_client(
    running: Running, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        [sys.executable, "-m", "sip2d", "client", f"{running.host}:{running.port}", *args],
        stdin=stdin.encode(),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )


async def test_client_one_shot_commands(running: Running) -> None:
    login = f"--login={KIOSK[0]}:{KIOSK[1]}"
    status = await sip2d_client(running, login, "sc-status")
    assert status.returncode == 0, status.stderr
    assert b"98 ACSStatus" in status.stdout and b"online_status: yes" in status.stdout

    patron = await sip2d_client(
        running,
        "--login",
        KIOSK[0],
        "--password-stdin",
        "patron-status",
        ALICE[0],
        "--pin-stdin",
        stdin=f"{KIOSK[1]}\n{ALICE[1]}\n",
    )
    assert patron.returncode == 0, patron.stderr
    assert b"valid_patron_password: yes" in patron.stdout
    assert ALICE[1].encode() not in patron.stdout + patron.stderr
    assert KIOSK[1].encode() not in patron.stdout + patron.stderr

    out = await sip2d_client(
        running, login, "checkout", ITEMS[0], "--patron", ALICE[0], "--pin-stdin", stdin=ALICE[1]
    )
    assert out.returncode == 0 and b"ok: yes" in out.stdout
    again = await sip2d_client(running, login, "checkout", ITEMS[0], "--patron", "1002", "--no-pin")
    assert again.returncode == 1 and b"ok: no" in again.stdout

    raw = await sip2d_client(running, "--no-checksums", "raw", "9900302.00")
    assert raw.returncode == 0 and raw.stdout.startswith(b"98 ACSStatus")

    refused = await sip2d_client(running, f"--login={KIOSK[0]}:wrong", "sc-status")
    assert refused.returncode == 1 and b"login refused" in refused.stderr


async def test_client_reports_unreachable_server_in_one_line(running: Running) -> None:
    result = await trio.run_process(
        [sys.executable, "-m", "sip2d", "client", "127.0.0.1:1", "sc-status"],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1 and b"Error: 127.0.0.1:1" in result.stderr
