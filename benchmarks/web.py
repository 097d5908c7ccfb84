"""The PIN page under load: forgot and change POSTs per second, kiosk keep-alive latency while
the page is busy, and how alike /pin/forgot's answer times are for every kind of card.

One ``sip2d serve`` subprocess (SQLite, the default argon2 cost unless ``--cheap``) serves the
kiosks and, with ``[web] listen``, the page, exactly as a small site runs it; this process is
the load generator (one trio loop, httpx and the project's SipClient). Printed, not asserted:

1. keep-alive (99) latency of one kiosk, alone: the baseline;
2. ``/pin/forgot`` POSTs/s from ``--clients`` concurrent browsers (a mix of cards with and
   without e-mail and unknown ones), with the kiosk's keep-alive p50/p99 meanwhile;
3. ``/pin/change`` POSTs/s (each one argon2 verify and one argon2 hash, behind the page's own
   limiter), with the kiosk's keep-alive p50/p99 meanwhile; the goal is p99 < 50 ms;
4. ``/pin/forgot`` answer time per kind of card (unknown, no e-mail, with e-mail, locked,
   link pending), median of ``--samples`` sequential requests each, and the largest gap
   between two medians (the issue asks for < 5 ms).

    .venv/bin/python benchmarks/web.py [--duration 8] [--clients 8] [--samples 200] [--cheap]
        [--separate]

``--separate`` runs the page as its own ``sip2d web`` process beside a ``sip2d serve`` without
it (the set-up docs/pin-page.md recommends for busy sites), to show what that does to the
kiosks' latency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio
from sqlalchemy import insert

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.client import SipClient
from sip2d.config import load_config
from sip2d.storage.connect import open_engine
from sip2d.storage.migrate import upgrade
from sip2d.storage.models import kiosk_accounts, patrons

ROOT = Path(__file__).resolve().parent.parent
KIOSK = ("bench", "bench-password")
PATRONS = 2000
PIN_A, PIN_B = "58316294", "61947253"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(directory: Path, cheap: bool) -> tuple[Path, int, int]:
    sip_port, web_port = free_port(), free_port()
    pepper = directory / "bench.pepper"
    pepper.write_text(Pepper.generate().to_text() + "\n", encoding="ascii")
    pepper.chmod(0o600)
    argon2 = "[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n\n" if cheap else ""
    text = (
        f'[[listeners]]\naddress = "127.0.0.1:{sip_port}"\n\n'
        f'[database]\nurl = "sqlite:///{directory / "bench.db"}"\n\n'
        f'[auth]\npepper_file = "{pepper}"\n\n{argon2}'
        "[pin_policy]\nmax_length = 8\n\n"
        "[throttle]\nspray_slowdown_after = 1000000\nspray_block_after = 1000000\n\n"
        f'[web]\nlisten = "127.0.0.1:{web_port}"\nbase_url = "http://127.0.0.1:{web_port}"\n'
        "allow_insecure_base_url = true\nforgot_per_address = 1000000\n\n"
        f'[mail]\ntransport = "directory"\ndirectory = "{directory / "mail"}"\n'
        "max_per_hour = 1000000\n\n"
        '[logging]\nlevel = "WARNING"\n'
    )
    path = directory / "sip2d.toml"
    path.write_text(text, encoding="utf-8")
    return path, sip_port, web_port


def seed(config_path: Path) -> None:
    config = load_config(config_path, env={})
    upgrade(config.database.url)
    hasher = PinHasher.from_config(config.auth)
    record = hasher.hash(PIN_A)
    engine = open_engine(config.database)
    locked = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(
            insert(kiosk_accounts).values(login=KIOSK[0], password_hash=hasher.hash(KIOSK[1]))
        )
        rows: list[dict[str, Any]] = [
            dict(
                barcode=f"{900000 + i}",
                name=f"Patron {i}",
                pin_hash=record,
                # Every other patron has an address; #1 is locked.
                email=f"p{i}@example.org" if i % 2 == 0 else "",
                pin_failures=9 if i == 1 else 0,
                pin_locked_until=locked if i == 1 else None,
            )
            for i in range(PATRONS)
        ]
        conn.execute(insert(patrons), rows)
    engine.dispose()


class Latencies:
    def __init__(self) -> None:
        self.samples: list[float] = []

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        ordered = sorted(self.samples)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return f"{len(ordered)} keep-alives, p50 {p50:.2f} ms, p99 {p99:.2f} ms"


async def keepalive(port: int, latencies: Latencies, stop: trio.Event) -> None:
    client = await SipClient.connect("127.0.0.1", port)
    async with client:
        assert await client.login(*KIOSK)
        while not stop.is_set():
            client.transcript.clear()
            start = time.perf_counter()
            await client.sc_status()
            latencies.samples.append(time.perf_counter() - start)
            await trio.sleep(0.01)


def probe_process(port: int, duration: float, results: Any) -> None:
    """The kiosk, in a process of its own: the load generator's busy loop must not delay it."""
    latencies = Latencies()

    async def main() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(keepalive, port, latencies, stop)
            await trio.sleep(duration)
            stop.set()

    trio.run(main)
    results.put(latencies.samples)


class Probe:
    """Start a kiosk probe process now; :meth:`summary` waits for its figures."""

    def __init__(self, port: int, duration: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        self.process = context.Process(
            target=probe_process, args=(port, duration, self.results), daemon=True
        )
        self.process.start()

    async def summary(self) -> str:
        latencies = Latencies()
        latencies.samples = await trio.to_thread.run_sync(self.results.get)
        self.process.join(10)
        return latencies.summary()


async def csrf(http: httpx.AsyncClient, path: str) -> str:
    found = CSRF_RE.search((await http.get(path)).text)
    assert found is not None
    return found.group(1)


async def load(
    base: str, path: str, clients: int, duration: float, fields: Any, sip_port: int
) -> tuple[float, str, int]:
    """POSTs/s to ``path`` from ``clients`` browsers, and the kiosk's latency meanwhile."""
    done = 0
    errors = 0
    stop = trio.Event()
    probe = Probe(sip_port, duration)
    await trio.sleep(1.0)  # the probe process starts up while the load begins

    async def browser(index: int) -> None:
        nonlocal done, errors
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            token = await csrf(http, path)
            round_ = 0
            while not stop.is_set():
                response = await http.post(path, data={"csrf": token, **fields(index, round_)})
                round_ += 1
                if response.status_code == 200:
                    done += 1
                else:
                    errors += 1

    async with trio.open_nursery() as nursery:
        for index in range(clients):
            nursery.start_soon(browser, index)
        start = time.perf_counter()
        await trio.sleep(duration)
        stop.set()
    elapsed = time.perf_counter() - start
    return done / elapsed, await probe.summary(), errors


async def forgot_timing(base: str, samples: int) -> dict[str, float]:
    cases = {
        "unknown card": "123",
        "no e-mail": f"{900000 + 3}",
        "with e-mail": f"{900000 + 4}",
        "locked": f"{900000 + 1}",
        "link pending": f"{900000 + 4}",
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        token = await csrf(http, "/pin/forgot")
        # Interleaved, so a noisy moment on a shared machine hits every case alike.
        for _ in range(samples):
            for name, card in cases.items():
                start = time.perf_counter()
                response = await http.post("/pin/forgot", data={"csrf": token, "card": card})
                times[name].append(time.perf_counter() - start)
                assert response.status_code == 200
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return medians


async def run(args: argparse.Namespace, sip_port: int, web_port: int) -> None:
    base = f"http://127.0.0.1:{web_port}"
    alone = await Probe(sip_port, args.duration).summary()
    print(f"1. kiosk keep-alive alone: {alone}")

    def forgot_fields(index: int, round_: int) -> dict[str, str]:
        return {"card": f"{900000 + (index * 997 + round_ * 31) % (PATRONS + 500)}"}

    rate, latency, errors = await load(
        base, "/pin/forgot", args.clients, args.duration, forgot_fields, sip_port
    )
    print(f"2. /pin/forgot: {rate:.1f} POSTs/s ({errors} errors); kiosk meanwhile: {latency}")

    def change_fields(index: int, round_: int) -> dict[str, str]:
        # Each browser owns its patrons; every round moves one of them A -> B or B -> A.
        patron = 10 + index + args.clients * (round_ % 50)
        current, new = (PIN_A, PIN_B) if (round_ // 50) % 2 == 0 else (PIN_B, PIN_A)
        return {
            "card": f"{900000 + patron}",
            "current_pin": current,
            "new_pin": new,
            "new_pin_again": new,
        }

    rate, latency, errors = await load(
        base, "/pin/change", args.clients, args.duration, change_fields, sip_port
    )
    print(f"3. /pin/change: {rate:.1f} POSTs/s ({errors} refused); kiosk meanwhile: {latency}")
    medians = await forgot_timing(base, args.samples)
    spread = max(medians.values()) - min(medians.values())
    listed = ", ".join(f"{name} {ms:.2f} ms" for name, ms in medians.items())
    print(
        f"4. /pin/forgot median answer ({args.samples} each): {listed}; largest gap {spread:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--cheap", action="store_true", help="argon2 at 64 KiB, t=1")
    parser.add_argument(
        "--separate",
        action="store_true",
        help="run the page as its own `sip2d web` process instead of inside `sip2d serve`",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sip2d-web-bench-") as tmp:
        directory = Path(tmp)
        config_path, sip_port, web_port = write_config(directory, args.cheap)
        seed(config_path)
        sip2d = str(Path(sys.executable).parent / "sip2d")
        env = {**os.environ, "SIP2D_CONFIG": ""}
        commands = [[sip2d, "--config", str(config_path), "serve"]]
        if args.separate:
            # The daemon without the page; the page on its own, same config and database.
            kiosk_only = directory / "kiosk.toml"
            kiosk_only.write_text(
                config_path.read_text(encoding="utf-8").replace(
                    f'listen = "127.0.0.1:{web_port}"', 'listen = ""'
                ),
                encoding="utf-8",
            )
            commands = [
                [sip2d, "--config", str(kiosk_only), "serve"],
                [sip2d, "--config", str(config_path), "web"],
            ]
        servers = [
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(directory / f"server{index}.log", "w"),  # noqa: SIM115
            )
            for index, command in enumerate(commands)
        ]
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", web_port), timeout=1).close()
                    socket.create_connection(("127.0.0.1", sip_port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            print(
                f"sip2d web benchmark: argon2 {'cheap' if args.cheap else 'default'}, "
                f"{args.clients} browsers, {args.duration:g} s per phase, {os.cpu_count()} CPUs, "
                f"page {'in its own process' if args.separate else 'inside sip2d serve'}"
            )
            trio.run(run, args, sip_port, web_port)
        finally:
            for server in servers:
                server.terminate()
                server.wait(30)


if __name__ == "__main__":
    main()
