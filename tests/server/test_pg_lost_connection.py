"""A database thread's PostgreSQL connection dying between messages costs the kiosk nothing.

Nothing pings a connection before use any more (that was one round trip per unit of work), so
a connection the server has dropped (a restart, a failover, an idle timeout, an operator's
``pg_terminate_backend``) is found by the error of the next statement. The runner then
discards it and runs the unit of work once more on a new connection: a read always, a write
because its transaction never reached COMMIT. The daemon stays on-line throughout.
"""

from __future__ import annotations

from typing import Any

import trio
from sqlalchemy import Connection, create_engine, text

from sip2d.protocol import CheckoutResponse, PatronStatusResponse
from tests.server.conftest import ALICE, ITEMS, Running
from tests.server.db_probe import loans_of


def backend_pid(conn: Connection) -> int:
    driver: Any = conn.connection.dbapi_connection
    return int(driver.info.backend_pid)


async def terminate(url: str, pid: int) -> None:
    def kill() -> None:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        finally:
            engine.dispose()

    await trio.to_thread.run_sync(kill)


async def test_reads_and_writes_survive_a_dropped_connection(
    one_thread: Running,
) -> None:
    server = one_thread
    db = server.daemon.ctx.db
    client = await server.logged_in()

    first = await db.read(backend_pid)
    await terminate(server.url, first)
    reply = (await client.patron_status(ALICE[0])).message
    assert isinstance(reply, PatronStatusResponse) and reply.valid_patron
    second = await db.read(backend_pid)
    assert second != first  # the dead connection was replaced, not reused

    await terminate(server.url, second)
    out = (await client.checkout(ALICE[0], ITEMS[0], ALICE[1])).message
    assert isinstance(out, CheckoutResponse) and out.ok
    loans = await loans_of(server.url, item=ITEMS[0])
    assert len(loans) == 1 and not loans[0].returned  # run once more, committed once

    assert await server.daemon.check_database()
    assert server.daemon.ctx.health.online
    await client.aclose()
