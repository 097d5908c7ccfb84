"""DatabaseRunner: on-loop SQLite reads, their fallback to a thread, and transactions."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import OperationalError

from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.migrate import upgrade
from sip2d.storage.models import items
from sip2d.storage.runner import DatabaseRunner


def count_items(conn: Connection) -> int:
    return len(conn.execute(select(items.c.id)).all())


async def test_reads_and_writes_on_both_engines(database_url: str) -> None:
    upgrade(database_url)
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=3), url=database_url))
    assert runner.inline_reads is database_url.startswith("sqlite")
    await runner.write(lambda c: c.execute(insert(items).values(barcode="1", title="t")))
    assert await runner.read(count_items) == 1

    def fails(conn: Connection) -> None:
        conn.execute(insert(items).values(barcode="2", title="t"))
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await runner.write(fails)
    assert await runner.read(count_items) == 1
    runner.close()


async def test_a_busy_on_loop_read_is_retried_in_a_worker_thread(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade(url)
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=3), url=url))
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def read(conn: Connection) -> int:
        threads.append(threading.get_ident())
        if threading.get_ident() == loop_thread:
            # What SQLite reports when a checkpoint holds the lock past the short busy timeout.
            raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))
        return count_items(conn)

    assert await runner.read(read) == 0
    assert threads[0] == loop_thread and threads[1] != loop_thread

    def broken(conn: Connection) -> int:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: nothing"))

    with pytest.raises(OperationalError):
        await runner.read(broken)  # other errors are not retried
    runner.close()
