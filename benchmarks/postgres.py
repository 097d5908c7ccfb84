"""PostgreSQL against SQLite, and two daemons on one PostgreSQL, measured as ratios in one run.

Issue #18's goals are ratios measured in one run on this shared machine: PostgreSQL
patron-status msg/s and session loans/s at least 0.6 of SQLite's, and the session p99 at most
1.5 of SQLite's. Both daemons use cheap argon2 (so the session measures circulation, not PIN
hashing) and the same 10,000-patron library; the rounds alternate SQLite and PostgreSQL so the
machine's drift falls on both, and every round prints its own ratios.

Then several daemons on one PostgreSQL (``--daemons``): one daemon, two daemons behind one port
(``sip2d serve --reuse-port``: the kernel deals connections between them) and two daemons on
two ports (the generator deals kiosks round-robin, ``sip2d bench --also``), for patron-status
and session, each with throughput, p99 and the machine's idle share (if the machine had no
idle time left, cores were the limit, not the design).

    .venv/bin/python benchmarks/postgres.py [--duration 8] [--kiosks 20] [--rounds 2]
        [--patrons 10000] [--no-daemons] [--json OUT]

Reuses the server and generator helpers of ``benchmarks/baseline.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from baseline import (
    CHEAP_ARGON2,
    PYTHON,
    Settings,
    Sip2dServer,
    bench_command,
    free_port,
    log,
    postgres_schema,
    prepare_sip2d,
    server_process,
    serving,
    wait_listening,
)

SCENARIOS = ("patron-status", "session")
# Every kiosk of the bench comes from 127.0.0.1 and the gate counts a PIN check in flight as a
# failure until it succeeds, so 20 kiosks checking PINs together look like a spray and get the
# 2 s slowdown: both backends then measure the same sleep. The limits are lifted here (this
# measures storage, not the throttle); the throttle's own tests keep the defaults.
THROTTLE = """
[throttle]
spray_slowdown_after = 100000
spray_block_after = 200000
"""


def bench_server(name: str, url: str, directory: Path, dataset: tuple[int, int]) -> Sip2dServer:
    """A seeded daemon configuration with cheap argon2 and the spray limits lifted."""
    server = prepare_sip2d(name, url, directory, dataset, argon2=CHEAP_ARGON2)
    with server.config.open("a", encoding="utf-8") as config:
        config.write(THROTTLE)
    return server


def run(
    ports: list[int], scenario: str, settings: Settings, dataset: tuple[int, int]
) -> dict[str, Any]:
    """One ``sip2d bench`` run; kiosks dealt over ``ports`` (one daemon each, or one shared)."""
    out = settings.work / f"bench-{uuid.uuid4().hex[:8]}.json"
    command = bench_command(ports[0], scenario, settings, out, dataset=dataset)
    for port in ports[1:]:
        command += ["--also", f"127.0.0.1:{port}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sip2d bench {scenario} failed: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def figures(result: dict[str, Any]) -> dict[str, float]:
    machine = result.get("machine_cpu") or {}
    return {
        "msg_s": result["messages_per_second"],
        "loans_s": result["loans_per_second"],
        "p99_ms": result["latency_ms"]["all"]["p99"],
        "idle": machine.get("idle", float("nan")),
        "steal": machine.get("steal", float("nan")),
        "errors": result["error_count"],
    }


def compare_backends(
    sqlite: Sip2dServer,
    pg: Sip2dServer,
    settings: Settings,
    dataset: tuple[int, int],
    rounds: int,
) -> list[dict[str, Any]]:
    """Alternate SQLite and PostgreSQL, ``rounds`` times; each round keeps its own ratios."""
    found: list[dict[str, Any]] = []
    for number in range(1, rounds + 1):
        one: dict[str, Any] = {"round": number}
        for name, server in (("sqlite", sqlite), ("postgresql", pg)):
            with serving(server):
                for scenario in SCENARIOS:
                    one[f"{name}/{scenario}"] = figures(
                        run([server.port], scenario, settings, dataset)
                    )
                    log(f"round {number} {name} {scenario}: {one[f'{name}/{scenario}']}")
        status = one["postgresql/patron-status"]["msg_s"] / one["sqlite/patron-status"]["msg_s"]
        loans = one["postgresql/session"]["loans_s"] / max(one["sqlite/session"]["loans_s"], 1e-9)
        p99 = one["postgresql/session"]["p99_ms"] / max(one["sqlite/session"]["p99_ms"], 1e-9)
        one["ratios"] = {"patron_status": status, "session_loans": loans, "session_p99": p99}
        found.append(one)
    return found


@contextlib.contextmanager
def daemons(
    servers: list[Sip2dServer], *, reuse_port: bool
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start one ``sip2d serve`` per entry (they may share a port with ``reuse_port``)."""
    with contextlib.ExitStack() as stack:
        started = []
        for number, server in enumerate(servers):
            args = [PYTHON, "-m", "sip2d", "--config", str(server.config), "serve"]
            if reuse_port:
                args.append("--reuse-port")
            log_path = server.directory / f"serve-{number}.log"
            process = stack.enter_context(server_process(args, server.port, log_path))
            wait_listening(server.idle_port, process)
            started.append(process)
        yield started


def second_config(pg: Sip2dServer, directory: Path) -> Sip2dServer:
    """The PostgreSQL daemon's configuration again, on its own two ports."""
    directory.mkdir(parents=True, exist_ok=True)
    port, idle_port = free_port(), free_port()
    text = pg.config.read_text(encoding="utf-8")
    text = text.replace(f'127.0.0.1:{pg.port}"', f'127.0.0.1:{port}"')
    text = text.replace(f'127.0.0.1:{pg.idle_port}"', f'127.0.0.1:{idle_port}"')
    config = directory / "sip2d.toml"
    config.write_text(text, encoding="utf-8")
    return Sip2dServer(pg.name + " (2)", config, port, idle_port, directory)


def compare_daemons(
    pg: Sip2dServer, settings: Settings, dataset: tuple[int, int], rounds: int
) -> list[dict[str, Any]]:
    """One daemon; two behind one SO_REUSEPORT port; two on two ports. Same database."""
    other = second_config(pg, settings.work / "pg2")
    found: list[dict[str, Any]] = []
    for number in range(1, rounds + 1):
        one: dict[str, Any] = {"round": number}
        layouts: list[tuple[str, list[Sip2dServer], bool, list[int]]] = [
            ("one daemon", [pg], False, [pg.port]),
            ("two daemons, one port (SO_REUSEPORT)", [pg, pg], True, [pg.port]),
            ("two daemons, two ports", [pg, other], False, [pg.port, other.port]),
        ]
        for label, servers, reuse, ports in layouts:
            with daemons(servers, reuse_port=reuse):
                for scenario in SCENARIOS:
                    one[f"{label}/{scenario}"] = figures(run(ports, scenario, settings, dataset))
                    log(f"round {number} {label} {scenario}: {one[f'{label}/{scenario}']}")
        found.append(one)
    return found


def backend_table(found: list[dict[str, Any]]) -> str:
    lines = [
        "| round | backend | patron-status msg/s | p99 ms | idle | session msg/s | loans/s "
        "| session p99 ms | idle | errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for one in found:
        for name in ("sqlite", "postgresql"):
            status, session = one[f"{name}/patron-status"], one[f"{name}/session"]
            lines.append(
                f"| {one['round']} | {name} | {status['msg_s']:,.0f} | {status['p99_ms']:.1f} "
                f"| {status['idle']:.0%} | {session['msg_s']:,.0f} | {session['loans_s']:,.0f} "
                f"| {session['p99_ms']:.1f} | {session['idle']:.0%} "
                f"| {status['errors'] + session['errors']} |"
            )
    lines += [
        "",
        "| round | PG/SQLite patron-status msg/s (goal ≥ 0.6) | PG/SQLite session loans/s "
        "(≥ 0.6) | PG/SQLite session p99 (≤ 1.5) |",
        "|---:|---:|---:|---:|",
    ]
    for one in found:
        r = one["ratios"]
        lines.append(
            f"| {one['round']} | {r['patron_status']:.2f} | {r['session_loans']:.2f} "
            f"| {r['session_p99']:.2f} |"
        )
    if len(found) > 1:
        median = {k: statistics.median(o["ratios"][k] for o in found) for k in found[0]["ratios"]}
        lines.append(
            f"| median | {median['patron_status']:.2f} | {median['session_loans']:.2f} "
            f"| {median['session_p99']:.2f} |"
        )
    return "\n".join(lines)


def daemon_table(found: list[dict[str, Any]]) -> str:
    lines = [
        "| round | layout | scenario | msg/s | loans/s | × one daemon | p99 ms | idle | errors |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for one in found:
        for key, value in one.items():
            if key == "round":
                continue
            label, scenario = key.rsplit("/", 1)
            base = one[f"one daemon/{scenario}"]
            measure = "loans_s" if scenario == "session" else "msg_s"
            ratio = value[measure] / base[measure] if base[measure] else float("nan")
            loans = f"{value['loans_s']:,.0f}" if scenario == "session" else ""
            lines.append(
                f"| {one['round']} | {label} | {scenario} | {value['msg_s']:,.0f} | {loans} "
                f"| {ratio:.2f} | {value['p99_ms']:.1f} | {value['idle']:.0%} "
                f"| {value['errors']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2, help="generator processes")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--patrons", type=int, default=10_000)
    parser.add_argument("--no-backends", action="store_true", help="skip SQLite vs PostgreSQL")
    parser.add_argument("--no-daemons", action="store_true", help="skip the two-daemon runs")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    dataset = (args.patrons, args.patrons * 2)
    payload: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sip2d-pgbench-") as tmp, postgres_schema() as url:
        work = Path(tmp)
        settings = Settings(args.duration, args.kiosks, args.processes, 8, work, None)
        pg = bench_server("postgresql", url, work / "pg", dataset)
        if not args.no_backends:
            sqlite = bench_server(
                "sqlite", f"sqlite:///{work}/sqlite/bench.db", work / "sqlite", dataset
            )
            payload["backends"] = compare_backends(sqlite, pg, settings, dataset, args.rounds)
        if not args.no_daemons:
            payload["daemons"] = compare_daemons(pg, settings, dataset, args.rounds)
    print(
        f"\nsip2d PostgreSQL bench: {os.cpu_count()} cores, {args.duration:.0f} s per run, "
        f"{args.kiosks} kiosks, {dataset[0]:,} patrons, cheap argon2 ({CHEAP_ARGON2})\n"
    )
    if "backends" in payload:
        print(backend_table(payload["backends"]))
        print()
    if "daemons" in payload:
        print(daemon_table(payload["daemons"]))
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
