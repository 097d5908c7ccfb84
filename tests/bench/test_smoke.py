"""CI's smoke run of `sip2d bench`: every scenario against a real daemon, briefly.

Not a performance test (no figure is asserted): it proves that the generator speaks to the
daemon correctly (every answer is the right id and says yes), that the JSON a dashboard reads
has its keys, and that both the in-process and the multi-process paths work.
"""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path

import pytest
import trio

from sip2d.bench.scenarios import SCENARIOS
from sip2d.config import load_config
from tests.bench.conftest import LOGIN, cli, write_config
from tests.server.conftest import start

PATRONS, ITEMS, KIOSKS = 40, 60, 3


def check_summary(summary: dict[str, object], scenario: str) -> None:
    for key in ("messages_per_second", "sessions_per_second", "errors", "latency_ms"):
        assert key in summary
    assert summary["scenario"] == scenario
    assert summary["errors"] == {}, summary["errors"]
    assert isinstance(summary["messages"], int) and summary["messages"] > 0
    latency = summary["latency_ms"]
    assert isinstance(latency, dict)
    for values in latency.values():
        assert set(values) >= {"p50", "p95", "p99", "max"}
        assert values["p50"] <= values["p95"] <= values["p99"] <= values["max"]
    expected = {
        "keepalive": {"99"},
        "patron-status": {"23"},
        "patron-pin": {"23"},
        "session": {"23", "63", "11", "09", "35"},
        "mixed": {"23", "63", "11", "09", "35", "99"},
    }[scenario]
    assert set(latency) == expected | {"all"}
    generator = summary["generator_cpu"]
    assert isinstance(generator, dict)
    assert generator["processes"] == summary["processes"]
    assert 0.0 < generator["busiest"] <= generator["total"]
    machine = summary["machine_cpu"]
    assert machine is None or abs(sum(machine.values()) - 1.0) < 0.01  # type: ignore[attr-defined]
    if scenario in ("session", "mixed"):
        assert isinstance(summary["sessions"], int) and summary["sessions"] > 0
        assert summary["loans"] == summary["responses"]["11"]["ok"]  # type: ignore[index]


async def test_every_scenario_runs_clean_against_a_real_daemon(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    config_path = write_config(tmp_path, sqlite_url)
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    code, output = cli(
        "--config", str(config_path), "bench", "seed",
        "--patrons", str(PATRONS), "--items", str(ITEMS), "--login", LOGIN,
    )  # fmt: skip
    assert code == 0, output
    server = await start(nursery, load_config(config_path, env={}))
    target = f"{server.host}:{server.port}"
    for scenario in SCENARIOS:
        # The multi-process path once (it costs a spawn), in-process for the rest.
        processes = "2" if scenario == "patron-status" else "1"
        out = tmp_path / f"{scenario}.json"
        args = [
            "bench", target, "--login", LOGIN, "--scenario", scenario,
            "--kiosks", str(KIOSKS), "--duration", "1.2", "--processes", processes,
            "--patrons", str(PATRONS), "--items", str(ITEMS), "--json", str(out),
        ]  # fmt: skip
        code, output = await trio.to_thread.run_sync(functools.partial(cli, *args))
        assert code == 0, output
        assert "latency (ms)" in output and "generator: busiest process" in output
        check_summary(json.loads(out.read_text()), scenario)
    server.daemon.stop()


async def test_a_wrong_kiosk_password_stops_the_run_with_one_line(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    config_path = write_config(tmp_path, sqlite_url)
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    seeded = ("--patrons", "4", "--items", "6")
    assert cli("--config", str(config_path), "bench", "seed", *seeded, "--login", LOGIN)[0] == 0
    server = await start(nursery, load_config(config_path, env={}))
    args = [
        "bench", f"{server.host}:{server.port}", "--login", "bench:wrong-password-5120",
        "--scenario", "patron-status", "--kiosks", "1", "--duration", "0.5", *seeded,
    ]  # fmt: skip
    code, output = await trio.to_thread.run_sync(lambda: cli(*args))
    assert code == 1
    assert "kiosk login refused" in output
    assert "wrong-password-5120" not in output and "Traceback" not in output
    server.daemon.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nohost"], "expected HOST:PORT"),
        (["127.0.0.1:1", "--scenario", "session"], "needs --login"),
        (["127.0.0.1:1", "--login", "x:y", "--scenario", "session", "--items", "2"], "items"),
    ],
)
def test_bad_invocations_are_one_clear_line(args: list[str], message: str) -> None:
    code, output = cli("bench", *args)
    assert code != 0
    assert message in output
    assert "Traceback" not in output


def test_an_unreachable_server_is_one_clear_line() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    code, output = cli("bench", "127.0.0.1:1", "--duration", "0.5", "--processes", "1")
    assert code == 1
    assert "cannot connect to 127.0.0.1:1" in output


async def test_a_server_that_answers_98_to_everything_is_named_as_such(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """Against a fixed-answer server, keepalive works and a login is reported plainly."""
    answer = b"98YYYYYN10000320260102    0304052.00AOMAIN|AMx|BXYYYYYYYYYYYYYYYY|\r"

    async def handler(stream: trio.SocketStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError):
            while data := await stream.receive_some(4096):
                await stream.send_all(answer * data.count(b"\r"))

    listeners = await nursery.start(functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    out_path = tmp_path / "ka.json"
    base = ["bench", f"127.0.0.1:{port}", "--kiosks", "2", "--duration", "0.5", "--processes", "1"]
    code, output = await trio.to_thread.run_sync(
        functools.partial(cli, *base, "--json", str(out_path))
    )
    assert code == 0, output
    check_summary(json.loads(out_path.read_text()), "keepalive")
    code, output = await trio.to_thread.run_sync(functools.partial(cli, *base, "--login", "a:b"))
    assert code == 1
    assert "answered '98' to a 93 Login" in output


async def test_also_deals_kiosks_over_two_daemons_on_one_postgresql(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    """``--also``: the generator's kiosks alternate between two daemons sharing one database."""
    config_path = write_config(tmp_path, postgres_url)
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    code, output = cli(
        "--config", str(config_path), "bench", "seed",
        "--patrons", str(PATRONS), "--items", str(ITEMS), "--login", LOGIN,
    )  # fmt: skip
    assert code == 0, output
    config = load_config(config_path, env={})
    first, second = await start(nursery, config), await start(nursery, config)
    out = tmp_path / "two.json"
    args = [
        "bench", f"{first.host}:{first.port}", "--also", f"{second.host}:{second.port}",
        "--login", LOGIN, "--scenario", "session", "--kiosks", "4", "--duration", "1.2",
        "--processes", "1", "--patrons", str(PATRONS), "--items", str(ITEMS),
        "--json", str(out),
    ]  # fmt: skip
    code, output = await trio.to_thread.run_sync(functools.partial(cli, *args))
    assert code == 0, output
    summary = json.loads(out.read_text())
    check_summary(summary, "session")
    assert summary["target"] == f"{first.host}:{first.port}, {second.host}:{second.port}"
    # Both daemons answered checkouts (kiosks 0 and 2 on the first, 1 and 3 on the second).
    for server in (first, second):
        counts = server.daemon.ctx.metrics.message_stats._counts
        assert counts.get(("11", "ok"), 0) > 0, counts
    first.daemon.stop()
    second.daemon.stop()
