"""What carrying one PostgreSQL read from trio costs, by way of carrying it (issue #18, item 2).

Four ways, each doing the same one-row read (``SELECT $1 + 1``, prepared server-side once hot)
from trio tasks, with 1 and with 20 tasks asking at once (20 kiosks), over the same number of
connections:

``to_thread, pooled``      what the daemon did before: ``trio.to_thread`` per unit of work, a
                           pool checkout with pre-ping, BEGIN, the SELECT, COMMIT (4 round trips)
``to_thread, own conn``    ``trio.to_thread`` per unit of work, each worker thread keeping its
                           connection in autocommit (1 round trip): the hop alone
``db threads + queue``     ``DatabaseRunner`` today: dedicated threads, one connection each, fed
                           by one queue, answers handed back with ``run_sync_soon`` (1 round trip)
``event loop, libpq``      no thread: psycopg's libpq binding in non-blocking mode, the event loop
                           waiting on the socket with ``trio.lowlevel.wait_readable`` (1 round trip;
                           raw libpq, without the statement layer's conversions)
``blocking on the loop``   a reference, not a design: the same read as the threaded ways, blocking
                           the event loop, so the CPU of a way minus this is what its hop costs

For each: reads per second (wall clock) and the client process's CPU per read (every thread;
the PostgreSQL server's own work per round trip comes on top, the same for the last three).
Rounds alternate the ways, so the shared machine's drift falls on all of them; the median is
printed.

    .venv/bin/python benchmarks/db_hops.py [--reads 3000] [--rounds 3] [--connections 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from psycopg import pq
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.prepared import Prepared
from sip2d.storage.runner import DatabaseRunner

URL = os.environ.get("SIP2D_BENCH_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
READ = Prepared(text("SELECT CAST(:x AS INTEGER) + 1"))

Read = Callable[[int], Awaitable[int]]


def one_read(x: int) -> Callable[[Connection], int]:
    return lambda conn: int(READ.scalar(conn, {"x": x}))


async def drive(read: Read, reads: int, callers: int) -> tuple[float, float]:
    """Run ``reads`` reads from ``callers`` tasks; (reads per second, CPU µs per read)."""
    per_caller = reads // callers

    async def caller(start: int) -> None:
        for n in range(per_caller):
            assert await read(start + n) == start + n + 1

    wall, cpu = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:
        for c in range(callers):
            nursery.start_soon(caller, c * per_caller)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    done = per_caller * callers
    return done / wall, cpu / done * 1e6


class PooledToThread:
    name = "to_thread, pooled (before)"

    def __init__(self, connections: int) -> None:
        self.engine = create_engine(URL, pool_size=connections, max_overflow=0, pool_pre_ping=True)
        self.limiter = trio.CapacityLimiter(connections)

    def _sync(self, x: int) -> int:
        with self.engine.begin() as conn:
            return one_read(x)(conn)

    async def read(self, x: int) -> int:
        return await trio.to_thread.run_sync(self._sync, x, limiter=self.limiter)

    def close(self) -> None:
        self.engine.dispose()


class OwnConnectionToThread:
    name = "to_thread, own conn"

    def __init__(self, connections: int) -> None:
        self.engine = make_engine(DatabaseConfig(url=URL, pool_size=connections + 1))
        self.limiter = trio.CapacityLimiter(connections)
        self.local = threading.local()
        self.held: list[Connection] = []

    def _sync(self, x: int) -> int:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = self.engine.connect()
            conn.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            self.held.append(conn)
        with conn.begin():
            return one_read(x)(conn)

    async def read(self, x: int) -> int:
        return await trio.to_thread.run_sync(self._sync, x, limiter=self.limiter)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.engine.dispose()


class DedicatedThreads:
    name = "db threads + queue (now)"

    def __init__(self, connections: int) -> None:
        self.runner = DatabaseRunner(
            make_engine(DatabaseConfig(url=URL, pool_size=connections + 1))
        )

    async def read(self, x: int) -> int:
        return await self.runner.read(one_read(x))

    def close(self) -> None:
        self.runner.close()


class BlockingOnLoop:
    """Not a design (it would stop every kiosk while PostgreSQL answers): the work without any
    hop, so each other way's CPU per read minus this one is what its hop costs."""

    name = "blocking on the loop (reference)"

    def __init__(self, connections: int) -> None:
        self.engine = make_engine(DatabaseConfig(url=URL, pool_size=1))
        self.conn = self.engine.connect()
        self.conn.connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]

    async def read(self, x: int) -> int:
        await trio.lowlevel.checkpoint()
        with self.conn.begin():
            return one_read(x)(self.conn)

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


class EventLoopLibpq:
    name = "event loop, libpq non-blocking"

    def __init__(self, connections: int) -> None:
        url = make_url(URL)
        info = f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"
        self.idle: list[pq.PGconn] = []
        for _ in range(connections):
            pgconn = pq.PGconn.connect(info.encode())
            assert pgconn.status == pq.ConnStatus.OK, pgconn.get_error_message()
            result = pgconn.prepare(b"read", b"SELECT $1::integer + 1")
            assert result.status == pq.ExecStatus.COMMAND_OK
            pgconn.nonblocking = 1
            self.idle.append(pgconn)
        self.free = trio.Semaphore(connections)

    async def read(self, x: int) -> int:
        async with self.free:
            pgconn = self.idle.pop()
            try:
                pgconn.send_query_prepared(b"read", [str(x).encode()])
                while pgconn.flush():
                    await trio.lowlevel.wait_writable(pgconn.socket)
                while True:
                    pgconn.consume_input()
                    if not pgconn.is_busy():
                        break
                    await trio.lowlevel.wait_readable(pgconn.socket)
                value = None
                while (result := pgconn.get_result()) is not None:
                    assert result.status == pq.ExecStatus.TUPLES_OK, result.error_message
                    value = int(result.get_value(0, 0) or b"0")
                assert value is not None
                return value
            finally:
                self.idle.append(pgconn)

    def close(self) -> None:
        for pgconn in self.idle:
            pgconn.finish()


WAYS: tuple[Any, ...] = (
    PooledToThread,
    OwnConnectionToThread,
    DedicatedThreads,
    EventLoopLibpq,
    BlockingOnLoop,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=7)
    args = parser.parse_args()
    found: dict[tuple[str, int], list[tuple[float, float]]] = {}

    async def measure() -> None:
        for _ in range(args.rounds):
            for way in WAYS:
                subject = way(args.connections)
                try:
                    await drive(subject.read, 200, 4)  # warm up: connect, prepare
                    for callers in (1, 20):
                        found.setdefault((way.name, callers), []).append(
                            await drive(subject.read, args.reads, callers)
                        )
                finally:
                    subject.close()

    trio.run(measure)
    print(
        f"\nOne PostgreSQL read from trio, {args.reads} reads per run, {args.connections} "
        f"connections, median of {args.rounds} rounds ({os.cpu_count()} cores)\n"
    )
    print("| way | callers | reads/s | client CPU µs per read |")
    print("|---|---:|---:|---:|")
    for (name, callers), runs in found.items():
        rate = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {name} | {callers} | {rate:,.0f} | {cpu:,.0f} |")


if __name__ == "__main__":
    main()
