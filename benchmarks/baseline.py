"""The sip2d performance baseline: every figure in one run, as a ratio to the transport ceiling.

Machines differ and a shared machine is noisy, so absolute messages per second mean little
on their own. This script measures, in one run and with the same generator (``sip2d bench``):

1. the transport ceiling: ``benchmarks/ceiling_server.py`` (a fixed 98 for every frame);
2. the PyPI ``pysip2`` 0.1.0 server with an in-memory backend (``benchmarks/pysip2_peer.py``)
   for ``keepalive`` and ``patron-status``;
3. ``sip2d serve`` on SQLite and on PostgreSQL (a throw-away schema in the ``test`` database)
   for every scenario, plus: ``patron-pin`` and ``keepalive`` at the same time (does PIN
   hashing starve other kiosks?), the ``session`` scenario against a daemon with cheap argon2
   (what circulation alone costs), 10,000 idle connections (memory per connection, and
   keep-alive latency with and without them), and a large library against the small one
   (latency of 23 and 11 as the tables grow);

and prints a markdown table of every figure with its ratio to (1), then the goals. The two
goals stated as ratios (keepalive, patron-status) are measured once more in alternation with
the ceiling, three rounds, and judged by the median of those paired ratios (see
:func:`measure_paired`): on a shared machine a single ceiling run minutes away can be off by
a quarter.

Every server runs as a subprocess with a temporary configuration; sip2d runs with its
defaults (argon2 19 MiB/t=2, SQLite ``synchronous=FULL``, INFO logging to a file) unless a
row says otherwise. The open-files limit is raised to the hard limit here, and the servers
and generators inherit it.

    .venv/bin/python benchmarks/baseline.py [--duration 8] [--kiosks 20] [--full]
        [--no-postgres] [--json results.json] [--profile DIR]

``--full`` seeds the 1,000,000-patron / 2,000,000-item library (about 30 s on SQLite); the
default large library is 100,000 / 200,000. ``--profile DIR`` attaches py-spy to the daemon
during the SQLite runs and writes one flame-graph SVG per scenario. It samples only the thread
holding the GIL (``--gil``): on a busy machine a wall-clock profile charges the time a
preempted event loop waits for a CPU to whatever syscall it was in (usually ``send``), and
that hides where the CPU goes. Argon2 and database waits release the GIL, so they are absent.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOGIN = "bench:bench-kiosk-password"
PG_BASE = os.environ.get("SIP2D_BENCH_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
SCENARIOS = ("keepalive", "patron-status", "patron-pin", "session", "mixed")
SMALL = (1000, 2000)
LARGE_QUICK = (100_000, 200_000)
LARGE_FULL = (1_000_000, 2_000_000)
IDLE_CONNECTIONS = 10_000
PAIRED_ROUNDS = 3
CHEAP_ARGON2 = "{ memory_kib = 64, time_cost = 1, parallelism = 1 }"


def log(text: str) -> None:
    print(f"[baseline] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {timeout:.0f} s")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def server_process(
    args: list[str], port: int, log_path: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            wait_listening(port, process)
            yield process
        finally:
            stop(process)


def sip2d(*args: str, config: Path | None = None) -> str:
    command = [PYTHON, "-m", "sip2d"] + (["--config", str(config)] if config else []) + list(args)
    env = {**os.environ, "SIP2D_DATABASE_URL": ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sip2d {' '.join(args[:2])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


@dataclass
class Settings:
    duration: float
    kiosks: int
    processes: int
    pin_kiosks: int
    work: Path
    profile: Path | None


@dataclass
class Row:
    target: str
    scenario: str
    result: dict[str, Any]
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def ceiling(self) -> float:
        """The ceiling the ratios divide by: the faster of its runs at the start and the end.

        On a shared machine a run can lose a quarter of its time to other guests (see the
        steal column); a ceiling measured in such a moment would flatter every ratio, so the
        faster reading is used and the slower one only shows the drift.
        """
        rates = [row.result["messages_per_second"] for row in self.rows if row.target == "ceiling"]
        return max(rates, default=0.0)

    def find(self, target: str, scenario: str) -> dict[str, Any] | None:
        for row in self.rows:
            if row.target == target and row.scenario == scenario:
                return row.result
        return None


def bench_command(
    port: int,
    scenario: str,
    settings: Settings,
    out: Path,
    *,
    kiosks: int | None = None,
    processes: int | None = None,
    duration: float | None = None,
    login: bool = True,
    dataset: tuple[int, int] = SMALL,
) -> list[str]:
    command = [
        PYTHON, "-m", "sip2d", "bench", f"127.0.0.1:{port}", "--scenario", scenario,
        "--kiosks", str(kiosks or settings.kiosks),
        "--processes", str(processes or settings.processes),
        "--duration", str(duration or settings.duration),
        "--patrons", str(dataset[0]), "--items", str(dataset[1]),
        "--json", str(out), "--quiet",
    ]  # fmt: skip
    if login:
        command += ["--login", LOGIN]
    return command


def run_bench(port: int, scenario: str, settings: Settings, **options: Any) -> dict[str, Any]:
    out = settings.work / f"bench-{uuid.uuid4().hex[:8]}.json"
    command = bench_command(port, scenario, settings, out, **options)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sip2d bench {scenario} failed: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_concurrently(commands: list[list[str]], outs: list[Path]) -> list[dict[str, Any]]:
    running = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands
    ]
    for process in running:
        _, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"concurrent bench failed: {err.decode()[-500:]}")
    return [json.loads(out.read_text()) for out in outs]


# --- servers ---------------------------------------------------------------------------------


def sip2d_config(
    directory: Path,
    url: str,
    port: int,
    idle_port: int,
    *,
    argon2: str | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    pepper = directory / "bench.pepper"
    if not pepper.exists():
        sip2d("auth", "gen-pepper", "--out", str(pepper))
    argon2_line = f"argon2 = {argon2}\n" if argon2 else ""
    config = directory / "sip2d.toml"
    config.write_text(
        f"""# Written by benchmarks/baseline.py: sip2d defaults except where noted.
[[listener]]
address = "127.0.0.1:{port}"

# Kiosks configured without 93: used by the idle connections (no argon2 per connection).
[[listener]]
address = "127.0.0.1:{idle_port}"
login_account = "bench"

[server]
max_connections = 20000
max_connections_per_address = 20000

[database]
url = "{url}"

[auth]
pepper_file = "{pepper}"
pepper_env = ""
{argon2_line}""",
        encoding="utf-8",
    )
    return config


@dataclass
class Sip2dServer:
    name: str
    config: Path
    port: int
    idle_port: int
    directory: Path


def prepare_sip2d(
    name: str, url: str, directory: Path, dataset: tuple[int, int], *, argon2: str | None = None
) -> Sip2dServer:
    port, idle_port = free_port(), free_port()
    config = sip2d_config(directory, url, port, idle_port, argon2=argon2)
    sip2d("db", "upgrade", config=config)
    started = time.perf_counter()
    sip2d(
        "bench", "seed", "--patrons", str(dataset[0]), "--items", str(dataset[1]),
        "--login", LOGIN, config=config,
    )  # fmt: skip
    log(f"{name}: seeded {dataset[0]:,} patrons / {dataset[1]:,} items in "
        f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return Sip2dServer(name, config, port, idle_port, directory)


@contextlib.contextmanager
def serving(server: Sip2dServer) -> Iterator[subprocess.Popen[bytes]]:
    args = [PYTHON, "-m", "sip2d", "--config", str(server.config), "serve"]
    with server_process(args, server.port, server.directory / "serve.log") as process:
        wait_listening(server.idle_port, process)
        yield process


@contextlib.contextmanager
def profiling(pid: int, settings: Settings, name: str) -> Iterator[None]:
    if settings.profile is None or shutil.which("py-spy") is None:
        yield
        return
    settings.profile.mkdir(parents=True, exist_ok=True)
    svg = settings.profile / f"{name}.svg"
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--rate", "200", "--gil",
         "--output", str(svg), "--duration", str(int(settings.duration + 4))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.wait()


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_BASE).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception), admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --- measurements ----------------------------------------------------------------------------


def measure_ceiling(settings: Settings, results: Results, note: str) -> None:
    port = free_port()
    args = [PYTHON, str(ROOT / "benchmarks" / "ceiling_server.py"), "--port", str(port)]
    with server_process(args, port, settings.work / "ceiling.log"):
        result = run_bench(port, "keepalive", settings, login=False)
    results.rows.append(Row("ceiling", "keepalive", result, note))
    log(f"ceiling ({note}): {result['messages_per_second']:,.0f} msg/s")


def measure_paired(server: Sip2dServer, settings: Settings, results: Results) -> None:
    """The two ratio goals again, in alternation: ceiling, keepalive, patron-status, 3 times.

    Both servers stay up and each ratio divides by the ceiling measured seconds before it, so
    the machine's drift over the run's minutes (and other guests' load) mostly cancels; the
    median of the rounds is what the goals use.
    """
    port = free_port()
    args = [PYTHON, str(ROOT / "benchmarks" / "ceiling_server.py"), "--port", str(port)]
    ratios: dict[str, list[float]] = {"keepalive": [], "patron-status": []}
    # Per round, the larger steal of the two runs a ratio compares.
    steal: dict[str, list[float]] = {scenario: [] for scenario in ratios}
    with server_process(args, port, settings.work / "ceiling-paired.log"), serving(server):
        for _ in range(PAIRED_ROUNDS):
            ceiling = run_bench(port, "keepalive", settings, login=False)
            for scenario, found in ratios.items():
                result = run_bench(server.port, scenario, settings)
                found.append(
                    round(result["messages_per_second"] / ceiling["messages_per_second"], 3)
                )
                steal[scenario].append(max(stolen(ceiling), stolen(result)))
    results.extra["paired"] = {
        scenario: {"ratios": found, "median": statistics.median(found), "steal": steal[scenario]}
        for scenario, found in ratios.items()
    }
    log(f"paired ratios: {ratios}; steal per round: {steal}")


def stolen(result: dict[str, Any]) -> float:
    """The share of the machine the hypervisor took during a run (0 where it is not known)."""
    machine = result.get("machine_cpu")
    return 0.0 if machine is None else float(machine["steal"])


def measure_peer(settings: Settings, results: Results) -> None:
    try:
        import pysip2  # noqa: F401
    except ImportError:
        log("pysip2 not installed (.venv/bin/pip install pysip2==0.1.0): peer rows skipped")
        return
    port = free_port()
    args = [
        PYTHON, str(ROOT / "benchmarks" / "pysip2_peer.py"), "--port", str(port),
        "--login", LOGIN, "--patrons", str(SMALL[0]),
    ]  # fmt: skip
    with server_process(args, port, settings.work / "pysip2.log"):
        for scenario in ("keepalive", "patron-status"):
            result = run_bench(port, scenario, settings)
            results.rows.append(Row("pysip2 0.1.0", scenario, result, "in-memory backend"))
            log(f"pysip2 {scenario}: {result['messages_per_second']:,.0f} msg/s")


def measure_sip2d(name: str, server: Sip2dServer, settings: Settings, results: Results) -> None:
    with serving(server) as process:
        for scenario in SCENARIOS:
            kiosks = settings.pin_kiosks if scenario == "patron-pin" else None
            with profiling(process.pid, settings, f"{name}-{scenario}"):
                result = run_bench(server.port, scenario, settings, kiosks=kiosks)
            results.rows.append(Row(name, scenario, result))
            log(f"{name} {scenario}: {result['messages_per_second']:,.0f} msg/s, "
                f"errors {result['error_count']}")  # fmt: skip
        # PIN hashing and keep-alives at once, on separate connections.
        outs = [settings.work / f"{name}-pin.json", settings.work / f"{name}-ka.json"]
        pin, keepalive = run_concurrently(
            [
                bench_command(
                    server.port,
                    "patron-pin",
                    settings,
                    outs[0],
                    kiosks=settings.pin_kiosks,
                    processes=1,
                ),
                bench_command(
                    server.port,
                    "keepalive",
                    settings,
                    outs[1],
                    kiosks=max(settings.kiosks // 4, 2),
                    processes=1,
                ),
            ],
            outs,
        )
        results.rows.append(Row(name, "patron-pin", pin, "while keepalive runs"))
        results.rows.append(Row(name, "keepalive", keepalive, "while patron-pin runs"))
        log(f"{name} pin+keepalive: keepalive p99 {keepalive['latency_ms']['99']['p99']} ms")


def measure_idle(server: Sip2dServer, settings: Settings, results: Results) -> None:
    kiosks = max(settings.kiosks // 4, 2)
    with serving(server) as daemon:
        before = run_bench(server.port, "keepalive", settings, kiosks=kiosks, processes=1)
        time.sleep(1.0)
        rss_before = rss_kib(daemon.pid)
        holder = subprocess.Popen(
            [PYTHON, "-m", "sip2d", "bench", "idle", f"127.0.0.1:{server.idle_port}",
             "--connections", str(IDLE_CONNECTIONS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None
            line = holder.stdout.readline()
            if not line.startswith("holding"):
                holder.wait(5)
                raise RuntimeError(
                    f"idle holder failed: {holder.stderr.read() if holder.stderr else ''}"
                )
            time.sleep(2.0)
            rss_after = rss_kib(daemon.pid)
            during = run_bench(server.port, "keepalive", settings, kiosks=kiosks, processes=1)
        finally:
            holder.send_signal(signal.SIGTERM)
            remaining, _ = holder.communicate(timeout=30)
    per_connection = (rss_after - rss_before) * 1024 / IDLE_CONNECTIONS
    results.rows.append(Row("sip2d sqlite", "keepalive", before, f"{kiosks} kiosks, no idle"))
    results.rows.append(
        Row("sip2d sqlite", "keepalive", during, f"{kiosks} kiosks + {IDLE_CONNECTIONS:,} idle")
    )
    results.extra["idle"] = {
        "connections": IDLE_CONNECTIONS,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "bytes_per_connection": round(per_connection),
        "still_open_at_end": remaining.strip(),
        "keepalive_p99_ms_before": before["latency_ms"]["99"]["p99"],
        "keepalive_p99_ms_during": during["latency_ms"]["99"]["p99"],
    }
    log(f"idle: {per_connection / 1024:.1f} KiB per connection; {remaining.strip()}")


def measure_size(
    small: Sip2dServer, large: Sip2dServer, large_size: tuple[int, int], settings: Settings,
    results: Results,
) -> None:  # fmt: skip
    kiosks = 4
    found: dict[str, dict[str, Any]] = {}
    for label, server, dataset in (("small", small, SMALL), ("large", large, large_size)):
        with serving(server):
            for scenario in ("patron-status", "session"):
                result = run_bench(
                    server.port, scenario, settings, kiosks=kiosks, processes=1, dataset=dataset
                )
                found[f"{label}/{scenario}"] = result
                note = f"{dataset[0]:,} patrons, {kiosks} kiosks"
                results.rows.append(Row(f"sip2d sqlite ({label})", scenario, result, note))
    comparison = {}
    for scenario, message in (("patron-status", "23"), ("session", "11")):
        a = found[f"small/{scenario}"]["latency_ms"][message]
        b = found[f"large/{scenario}"]["latency_ms"][message]
        comparison[message] = {
            "small_p50": a["p50"], "large_p50": b["p50"],
            "small_p99": a["p99"], "large_p99": b["p99"],
            "ratio_p50": round(b["p50"] / a["p50"], 2) if a["p50"] else None,
        }  # fmt: skip
    results.extra["size"] = {"small": SMALL, "large": large_size, "latency": comparison}


def argon2_ceiling() -> dict[str, float]:
    """PIN checks per second the CPU allows: cores / one verification at the default cost."""
    from sip2d.auth.hashing import Pepper, PinHasher
    from sip2d.config import Argon2Config

    hasher = PinHasher(Argon2Config(), Pepper.generate())
    record = hasher.hash("4826")
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        hasher.verify(record, "4826")
        samples.append(time.perf_counter() - start)
    one = sorted(samples)[len(samples) // 2]
    cores = os.cpu_count() or 1
    return {"verify_ms": round(one * 1000, 1), "cores": cores, "per_second": round(cores / one, 1)}


# --- report ----------------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def table(results: Results) -> str:
    base = results.ceiling()
    lines = [
        "| server | scenario | msg/s | × ceiling | sessions/s | loans/s | p50 ms | p99 ms "
        "| errors | gen / idle / steal | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in results.rows:
        r = row.result
        every = r["latency_ms"]["all"]
        ratio = f"{r['messages_per_second'] / base:.2f}" if base else "-"
        sessions = f"{r['sessions_per_second']:.1f}" if r["sessions"] else ""
        loans = f"{r['loans_per_second']:.0f}" if r["loans"] else ""
        lines.append(
            f"| {row.target} | {row.scenario} | {r['messages_per_second']:,.0f} | {ratio} "
            f"| {sessions} | {loans} | {fmt_ms(every['p50'])} | {fmt_ms(every['p99'])} "
            f"| {r['error_count']} | {cpu_cell(r)} | {row.note} |"
        )
    return "\n".join(lines)


def cpu_cell(result: dict[str, Any]) -> str:
    """Busiest generator process (share of a core), then the machine's idle and stolen time."""
    generator = result.get("generator_cpu") or {}
    machine = result.get("machine_cpu")
    cell = f"{generator.get('busiest', 0.0):.2f}"
    if machine:
        cell += f" / {machine['idle']:.0%} / {machine['steal']:.0%}"
    return cell


def goals(results: Results, settings: Settings) -> str:
    base = results.ceiling() or float("nan")
    out = ["| goal | measured | met |", "|---|---|---|"]

    def add(goal: str, measured: str, met: bool | None) -> None:
        out.append(
            f"| {goal} | {measured} | {'yes' if met else 'no' if met is not None else '-'} |"
        )

    paired = results.extra.get("paired", {})

    def ratio_goal(goal: str, scenario: str, least: float) -> None:
        found = results.find("sip2d sqlite", scenario)
        if found is None:
            return
        single = found["messages_per_second"] / base
        pair = paired.get(scenario)
        if pair is None:
            add(goal, f"{single:.2f}", single >= least)
            return
        rounds = ", ".join(f"{r:.2f}" for r in pair["ratios"])
        rounds += f"; at most {max(pair['steal']):.0%} stolen"
        measured = f"{pair['median']:.2f} (paired rounds {rounds}; table row {single:.2f})"
        add(goal, measured, pair["median"] >= least)

    ratio_goal("keepalive ≥ 0.70 × ceiling", "keepalive", 0.70)
    keepalive = results.find("sip2d sqlite", "keepalive")
    peer = results.find("pysip2 0.1.0", "keepalive")
    if keepalive and peer:
        vs = keepalive["messages_per_second"] / peer["messages_per_second"]
        add("keepalive ≥ 1.0 × pysip2", f"{vs:.2f}", vs >= 1.0)
    ratio_goal("patron-status (SQLite) ≥ 0.40 × ceiling", "patron-status", 0.40)
    cheap = results.find("sip2d sqlite (cheap argon2)", "session")
    session = results.find("sip2d sqlite", "session")
    if session:
        add("session loans/s (SQLite, default argon2)", f"{session['loans_per_second']:.0f}", None)
    if cheap:
        loans = cheap["loans_per_second"]
        add("session loans/s (SQLite, cheap argon2) ≥ 1,000", f"{loans:.0f}", loans >= 1000)
    cpu = results.extra.get("argon2")
    pin = results.find("sip2d sqlite", "patron-pin")
    if pin and cpu:
        ratio = pin["messages_per_second"] / cpu["per_second"]
        add(
            f"patron-pin ≥ 0.90 × cores/verify ({cpu['per_second']:.0f}/s)",
            f"{pin['messages_per_second']:.1f}/s = {ratio:.2f}",
            ratio >= 0.90,
        )
    for row in results.rows:
        if row.target == "sip2d sqlite" and row.note == "while patron-pin runs":
            p99 = row.result["latency_ms"]["99"]["p99"]
            add("keepalive p99 < 50 ms during patron-pin", f"{p99:.1f} ms", p99 < 50)
    idle = results.extra.get("idle")
    if idle:
        per = idle["bytes_per_connection"]
        add(
            f"{idle['connections']:,} idle connections, < 20 KB each",
            f"{per / 1024:.1f} KiB",
            per < 20 * 1024,
        )
        add(
            "keepalive p99 unchanged by idle connections",
            f"{idle['keepalive_p99_ms_before']} → {idle['keepalive_p99_ms_during']} ms",
            idle["keepalive_p99_ms_during"] <= 1.5 * idle["keepalive_p99_ms_before"] + 1,
        )
    size = results.extra.get("size")
    if size:
        for message, values in size["latency"].items():
            ratio = values["ratio_p50"]
            add(
                f"{message} p50 on {size['large'][0]:,} patrons ≤ 1.5 × on {size['small'][0]:,}",
                f"{values['small_p50']} → {values['large_p50']} ms ({ratio}×)",
                ratio is not None and ratio <= 1.5,
            )
    return "\n".join(out)


def noise(results: Results, limit: float = 0.10) -> str:
    """Runs that lost more than ``limit`` of the machine to other guests: compare with care."""
    losers = [
        f"{row.target} {row.scenario}{f' ({row.note})' if row.note else ''}: "
        f"{stolen(row.result):.0%}"
        for row in results.rows
        if stolen(row.result) > limit
    ]
    if not losers:
        return f"No run lost more than {limit:.0%} of the machine to the hypervisor."
    return (
        f"{len(losers)} of {len(results.rows)} runs lost more than {limit:.0%} of the machine "
        "to the hypervisor (steal); their figures may be low for that reason: " + "; ".join(losers)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--processes", type=int, default=2, help="generator processes")
    parser.add_argument("--pin-kiosks", type=int, default=8)
    parser.add_argument("--full", action="store_true", help="1,000,000 patrons / 2,000,000 items")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--skip-size", action="store_true", help="no large-library runs")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--profile", type=Path, help="py-spy flame graphs of the SQLite daemon")
    args = parser.parse_args()

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = Results()
    with tempfile.TemporaryDirectory(prefix="sip2d-baseline-") as tmp:
        work = Path(tmp)
        settings = Settings(
            args.duration, args.kiosks, args.processes, args.pin_kiosks, work, args.profile
        )
        results.extra["argon2"] = argon2_ceiling()
        log(f"argon2 verify {results.extra['argon2']['verify_ms']} ms")
        measure_ceiling(settings, results, "fixed 98, no parsing (the 1.00)")
        measure_peer(settings, results)
        sqlite = prepare_sip2d(
            "sip2d sqlite", f"sqlite:///{work}/small/bench.db", work / "small", SMALL
        )
        measure_sip2d("sip2d sqlite", sqlite, settings, results)
        measure_paired(sqlite, settings, results)
        cheap = prepare_sip2d(
            "cheap", f"sqlite:///{work}/cheap/bench.db", work / "cheap", SMALL, argon2=CHEAP_ARGON2
        )
        with serving(cheap):
            result = run_bench(cheap.port, "session", settings)
        results.rows.append(
            Row("sip2d sqlite (cheap argon2)", "session", result, "argon2 m=64 KiB t=1")
        )
        measure_idle(sqlite, settings, results)
        if not args.no_postgres:
            try:
                with postgres_schema() as url:
                    pg = prepare_sip2d("sip2d postgresql", url, work / "pg", SMALL)
                    measure_sip2d("sip2d postgresql", pg, settings, results)
            except Exception as exc:  # report and carry on with what can be measured
                log(f"PostgreSQL rows skipped: {type(exc).__name__}: {str(exc)[:300]}")
        if not args.skip_size:
            large_size = LARGE_FULL if args.full else LARGE_QUICK
            large = prepare_sip2d(
                "sip2d sqlite (large)", f"sqlite:///{work}/large/bench.db", work / "large",
                large_size,
            )  # fmt: skip
            measure_size(sqlite, large, large_size, settings, results)
        # Measured again at the end: the drift between the two is the run's noise.
        measure_ceiling(settings, results, "again at the end: the run's drift")
    print(f"\nsip2d baseline: {os.cpu_count()} cores, {settings.duration:.0f} s per run, "
          f"{settings.kiosks} kiosks ({settings.pin_kiosks} for patron-pin), "
          f"generator in {settings.processes} processes\n")  # fmt: skip
    print(table(results))
    print()
    print(goals(results, settings))
    print()
    print(noise(results))
    if args.json:
        payload = {
            "rows": [{"server": r.target, "scenario": r.scenario, "note": r.note, **r.result}
                     for r in results.rows],
            **results.extra,
        }  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
