"""Round trips to PostgreSQL per message, counted on the wire by libpq's own protocol trace.

A kiosk message on PostgreSQL costs what its round trips cost, so this counts them for a 23
Patron Status and a 93 Login through a real daemon: libpq writes every protocol message it
sends and receives to a trace file, and each round trip ends with the client's ``Sync`` (an
extended-protocol statement) or is a simple ``Query`` (BEGIN, COMMIT). The daemon runs with
one database thread, so the connection traced is the one that does the work, switched on and
off by a unit of work that itself sends nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from sip2d.protocol import CheckinResponse, CheckoutResponse
from sip2d.storage.runner import DatabaseRunner
from tests.server.conftest import ALICE, BOB, ITEMS, KIOSK, Running


def round_trips(trace: str) -> int:
    """Requests the client sent that each wait for the server's answer."""
    sent = [line.split("\t") for line in trace.splitlines() if line.startswith("F\t")]
    return sum(1 for fields in sent if fields[2].startswith(("Sync", "Query")))


class Tracer:
    """libpq's protocol trace on the daemon's one database thread's connection."""

    def __init__(self, db: DatabaseRunner, path: Path) -> None:
        self.db = db
        self.path = path

    async def __aenter__(self) -> Tracer:
        def on(conn: Connection) -> None:
            import psycopg

            driver: Any = conn.connection.dbapi_connection
            self.file = self.path.open("w")
            driver.pgconn.trace(self.file.fileno())
            driver.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

        await self.db.read(on)
        return self

    async def __aexit__(self, *_: object) -> None:
        def off(conn: Connection) -> None:
            driver: Any = conn.connection.dbapi_connection
            driver.pgconn.untrace()
            self.file.close()

        await self.db.read(off)

    def count(self) -> int:
        return round_trips(self.path.read_text())


async def test_a_patron_status_read_is_one_round_trip(one_thread: Running, tmp_path: Path) -> None:
    db = one_thread.daemon.ctx.db
    client = await one_thread.logged_in()
    # Warm up: psycopg prepares a statement once it has run a few times on a connection.
    for _ in range(4):
        assert (await client.patron_status(ALICE[0])).message.MESSAGE_ID == "24"
    async with Tracer(db, tmp_path / "23.trace") as tracer:
        reply = await client.patron_status(BOB[0])
    assert reply.message.MESSAGE_ID == "24"
    trace = tracer.path.read_text()
    assert tracer.count() == 1, trace
    # No BEGIN/COMMIT around the read, no ping before it, and the statement was prepared
    # (bound by name, not parsed again).
    assert "BEGIN" not in trace and "COMMIT" not in trace
    assert '"_pg3_' in trace and "Parse" not in trace
    await client.aclose()


async def test_a_login_is_one_transaction_per_write(one_thread: Running, tmp_path: Path) -> None:
    db = one_thread.daemon.ctx.db
    for _ in range(4):
        client = await one_thread.logged_in()
        await client.aclose()
    client = await one_thread.client()
    async with Tracer(db, tmp_path / "93.trace") as tracer:
        assert await client.login(*KIOSK)
    trace = tracer.path.read_text()
    begins = trace.count('Query\t "BEGIN"')
    commits = trace.count('Query\t "COMMIT"')
    # Each write transaction is BEGIN, its statements, COMMIT; nothing pings in between.
    assert begins == commits >= 1, trace
    assert ' ";"' not in trace
    # Today: the account read, BEGIN + 8 throttle statements + COMMIT before argon2, and
    # BEGIN + 1 + COMMIT after it (docs/benchmarks.md); the bound keeps it from growing.
    assert tracer.count() <= 14, trace
    await client.aclose()


async def test_a_checkout_and_a_checkin_are_one_transaction_each(
    one_thread: Running, tmp_path: Path
) -> None:
    db = one_thread.daemon.ctx.db
    client = await one_thread.logged_in()

    async def lend(item: str) -> None:
        out = (await client.checkout(ALICE[0], item, ALICE[1])).message
        assert isinstance(out, CheckoutResponse) and out.ok

    async def take_back(item: str) -> None:
        back = (await client.checkin(item)).message
        assert isinstance(back, CheckinResponse) and back.ok

    for item in ITEMS[:3]:  # warm up: the statements get prepared
        await lend(item)
        await take_back(item)
    async with Tracer(db, tmp_path / "11.trace") as out:
        await lend(ITEMS[3])
    async with Tracer(db, tmp_path / "09.trace") as back:
        await take_back(ITEMS[3])
    # One transaction each, no ping; the statements inside are the circulation rules' own
    # (today 14 for a checkout after its patron read, 9 for a checkin: docs/benchmarks.md),
    # plus retry recognition's key lock, lookup and stored reply (docs/retries-and-wire.md).
    for tracer, most in ((out, 21), (back, 15)):
        trace = tracer.path.read_text()
        assert trace.count('Query\t "BEGIN"') == trace.count('Query\t "COMMIT"') == 1, trace
        assert tracer.count() <= most, trace
    await client.aclose()
