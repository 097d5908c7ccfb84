"""The command line as vendors use it: exit codes, the three report forms, masking, errors.

The CLI calls ``trio.run`` itself, so it is invoked from a worker thread while the test's own
trio loop serves the sip2d daemon (and, for the faulty case, the fault proxy) it talks to.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import partial
from pathlib import Path

import trio
import trustme
from click.testing import CliRunner, Result

from conformance.checks import SERVER_CHECKS
from conformance.cli import main
from sip2d.config import ListenerConfig
from tests.conformance.conftest import ALICE, BOB, ITEMS, KIOSK, sip2d_config, start_sip2d
from tests.conformance.faults import TRAILERS
from tests.conformance.proxy import FaultProxy
from tests.server.conftest import seed, start

SUMMARY = re.compile(r"^conformance: (\d+) passed, (\d+) failed, (\d+) skipped$", re.MULTILINE)
SECRETS = (KIOSK[1], BOB[1], ALICE[1])

PROFILE_TOML = f"""
name = "cli test"
[connection]
institution_id = "MAIN"
timeout = 1.0
[login]
user = "{KIOSK[0]}"
password_env = "CF_KIOSK_PASSWORD"
location = "BRANCH1"
[patron]
barcode = "{BOB[0]}"
pin_file = "bob.pin"
[second_patron]
barcode = "{ALICE[0]}"
pin = "{ALICE[1]}"
[item]
barcode = "{ITEMS[0]}"
[invalid]
patron = "9999999"
item = "8888888"
"""


def write_profile(tmp_path: Path) -> Path:
    (tmp_path / "bob.pin").write_text(BOB[1] + "\n", encoding="utf-8")
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE_TOML, encoding="utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"CF_KIOSK_PASSWORD": KIOSK[1]})


async def invoke_in_thread(*args: str) -> Result:
    return await trio.to_thread.run_sync(lambda: invoke(*args))


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


async def test_server_run_writes_three_reports(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    profile = write_profile(tmp_path)
    junit, report_json = tmp_path / "out.xml", tmp_path / "out.json"
    result = await invoke_in_thread(
        "server", "--host", running.host, "--port", str(running.port), "--profile", str(profile),
        "--junit", str(junit), "--json", str(report_json), "--allow-changes",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    match = SUMMARY.search(result.stdout)
    assert match is not None, result.stdout
    passed, failures, skipped = (int(g) for g in match.groups())
    assert failures == 0 and passed + skipped == len(SERVER_CHECKS)
    assert result.stdout.rstrip().splitlines()[-1] == match.group(0)

    tree = ET.parse(junit).getroot()
    cases = tree.findall("./testsuite/testcase")
    assert len(cases) == len(SERVER_CHECKS)
    assert {c.get("name", "").split(" ")[0] for c in cases} == {c.id for c in SERVER_CHECKS}
    assert tree.get("failures") == "0"

    data = json.loads(report_json.read_text(encoding="utf-8"))
    assert data["summary"]["exit_code"] == 0
    assert [c["id"] for c in data["checks"]] == [c.id for c in SERVER_CHECKS]
    se01 = next(c for c in data["checks"] if c["id"] == "SE-01")
    assert se01["transcript"][0]["text"].startswith(f"9300CN{KIOSK[0]}|CO***|")
    assert_no_secrets(result.output, junit.read_text(), report_json.read_text())
    running.daemon.stop()


async def test_server_run_with_a_must_failure_exits_1_and_shows_frames(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    lowercase = next(fault for fault, expected in TRAILERS if expected == {"ED-03"})
    proxy = FaultProxy((running.host, running.port), [lowercase])
    nursery.start_soon(proxy.run)
    while not proxy.port:
        await trio.sleep(0.01)
    profile = write_profile(tmp_path)
    result = await invoke_in_thread(
        "server", "--host", "127.0.0.1", "--port", str(proxy.port), "--profile", str(profile)
    )
    assert result.exit_code == 1, result.output
    assert re.search(r"^  FAIL  ED-03 +MUST ", result.stdout, re.MULTILINE)
    assert "MUST failures (1): ED-03" in result.stdout
    failure = result.stdout[result.stdout.index("FAIL  ED-03") :]
    assert "[*] >> " in failure and "[*] << " in failure  # the offending exchanges
    assert "AD***" in result.stdout or "CO***" in result.stdout
    assert_no_secrets(result.output)
    running.daemon.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_kiosk_run_from_the_command_line_reports_on_ctrl_c(tmp_path: Path) -> None:
    """A real ``sip2d-conformance kiosk`` process (the daemon needs the main thread); Ctrl-C
    after one kiosk session ends the observation and writes the report."""
    from sip2d.client import SipClient

    profile = write_profile(tmp_path)
    port = free_port()
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    command = [sys.executable, "-m", "conformance", "kiosk", "--listen", f"127.0.0.1:{port}",
               "--profile", str(profile), "--connections", "5",
               "--json", str(tmp_path / "kiosk.json")]  # fmt: skip
    env = {**os.environ, "CF_KIOSK_PASSWORD": KIOSK[1]}
    with stdout.open("wb") as out, stderr.open("wb") as err:
        async with trio.open_nursery() as nursery:
            process: trio.Process = await nursery.start(
                partial(trio.run_process, command, stdout=out, stderr=err, env=env, check=False)
            )
            with trio.fail_after(30):
                while True:
                    try:
                        client = await SipClient.connect("127.0.0.1", port, timeout=5.0)
                        break
                    except OSError:
                        await trio.sleep(0.05)
            assert await client.login(KIOSK[0], KIOSK[1], "BRANCH1")
            await client.sc_status()
            await client.patron_status(BOB[0], BOB[1], institution="MAIN")
            await client.end_session(BOB[0], institution="MAIN")
            await client.aclose()
            await trio.sleep(0.1)
            process.send_signal(signal.SIGINT)
    assert process.returncode == 0, stderr.read_text()
    assert "reference ACS ready" in stderr.read_text()
    output = stdout.read_text()
    assert SUMMARY.search(output), output
    data = json.loads((tmp_path / "kiosk.json").read_text(encoding="utf-8"))
    assert data["mode"] == "kiosk" and data["summary"]["failed"] == 0
    assert data["summary"]["passed"] >= 15
    assert_no_secrets(output, stderr.read_text(), (tmp_path / "kiosk.json").read_text())


def test_unreachable_server_is_one_line_and_exit_2(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    result = invoke("server", "--host", "127.0.0.1", "--port", str(free_port()),
                    "--profile", str(profile))  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("sip2d-conformance: cannot connect to 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_bad_profile_and_arguments_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[login]\nuser = "k"\npasword = "x"\n', encoding="utf-8")
    result = invoke("server", "--host", "h", "--port", "1", "--profile", str(bad))
    assert result.exit_code == 2
    assert "bad.toml: login.pasword: unknown key; (every key is listed in" in result.stderr
    missing = invoke("server", "--host", "h", "--port", "1", "--profile", str(tmp_path / "no"))
    assert missing.exit_code == 2 and "cannot read profile" in missing.stderr
    profile = write_profile(tmp_path)
    unknown = invoke("server", "--host", "h", "--port", "1", "--profile", str(profile),
                     "--check", "XX-99")  # fmt: skip
    assert unknown.exit_code == 2 and "XX-99: no such check" in unknown.stderr
    listen = invoke("kiosk", "--listen", "nowhere", "--profile", str(profile))
    assert listen.exit_code == 2 and "--listen" in listen.stderr
    for result in (missing, unknown, listen):
        assert len(result.stderr.strip().splitlines()) == 1


def test_list_shows_every_check() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    ids = [line.split()[0] for line in result.stdout.splitlines()]
    assert ids == [c.id for c in SERVER_CHECKS]
    assert "[needs --allow-changes]" in result.stdout
    kiosk = invoke("list", "--mode", "kiosk")
    assert kiosk.exit_code == 0 and kiosk.stdout.startswith("KS-01")


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "list"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("SE-01")


def test_profile_override_of_timeout_is_checked(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    result = invoke("server", "--host", "h", "--port", "1", "--profile", str(profile),
                    "--timeout", "0")  # fmt: skip
    assert result.exit_code == 2 and "--timeout must be positive" in result.stderr
    assert dataclasses.is_dataclass(SERVER_CHECKS[0])


async def test_server_over_tls(nursery: trio.Nursery, tmp_path: Path, sqlite_url: str) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    ca.cert_pem.write_to_path(ca_file)
    listener = ListenerConfig(
        address="127.0.0.1:0", tls=True, cert_file=str(cert_file), key_file=str(key_file)
    )
    config = dataclasses.replace(sip2d_config(tmp_path, sqlite_url), listeners=[listener])
    await trio.to_thread.run_sync(seed, config)
    running = await start(nursery, config)
    profile = write_profile(tmp_path)
    args = ("server", "--host", "127.0.0.1", "--port", str(running.port), "--profile",
            str(profile), "--check", "SE-01", "--check", "MS-23", "--check", "FR-01")  # fmt: skip
    result = await invoke_in_thread(*args, "--tls-ca", str(ca_file))
    assert result.exit_code == 0, result.output
    assert "sip2+tls://127.0.0.1:" in result.stdout
    assert SUMMARY.search(result.stdout).groups() == ("3", "0", "0")  # type: ignore[union-attr]
    untrusted = await invoke_in_thread(*args, "--tls")
    assert untrusted.exit_code == 2 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    running.daemon.stop()
