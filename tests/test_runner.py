"""DatabaseRunner: on-loop SQLite reads, their fallback to a thread, and transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.models import items
from sip2d.storage.runner import DatabaseRunner
from tests.templates import migrate


def count_items(conn: Connection) -> int:
    return len(conn.execute(select(items.c.id)).all())


async def test_reads_and_writes_on_both_engines(database_url: str) -> None:
    migrate(database_url)
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
    migrate(url)
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


def _insert_item(barcode: str) -> Callable[[Connection], str]:
    def write(conn: Connection) -> str:
        conn.execute(insert(items).values(barcode=barcode, title="t"))
        return barcode

    return write


async def test_group_commit_keeps_each_write_atomic_and_its_own_outcome(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'group.db'}"
    migrate(url)
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=3), url=url))
    batches: list[int] = []
    commit_batch = runner._commit_batch

    def counting(batch: list[Any]) -> None:
        batches.append(len(batch))
        commit_batch(batch)

    runner._commit_batch = counting  # type: ignore[method-assign]
    outcomes: dict[str, object] = {}

    def half_done(conn: Connection) -> None:
        conn.execute(insert(items).values(barcode="bad", title="t"))
        raise RuntimeError("refused midway")

    async def one(name: str, fn: Callable[[Connection], object]) -> None:
        try:
            outcomes[name] = await runner.write(fn)
        except Exception as exc:
            outcomes[name] = exc

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run_writer)
        async with trio.open_nursery() as writers:
            for n in range(40):
                writers.start_soon(one, f"w{n}", _insert_item(f"b{n}"))
            writers.start_soon(one, "bad", half_done)
            # Same barcode twice: the unique index refuses the second one only.
            writers.start_soon(one, "dup", _insert_item("b0"))
        nursery.cancel_scope.cancel()

    assert all(outcomes[f"w{n}"] == f"b{n}" for n in range(1, 40))
    assert isinstance(outcomes["bad"], RuntimeError)
    # trio may run the two b0 writers in either order: whichever came second was refused.
    first_b0 = [outcomes["w0"], outcomes["dup"]]
    assert "b0" in first_b0 and sum(isinstance(o, IntegrityError) for o in first_b0) == 1
    barcodes = await runner.read(lambda c: set(c.execute(select(items.c.barcode)).scalars()))
    assert barcodes == {f"b{n}" for n in range(40)}
    # Writes that arrived together shared commits (42 writes in fewer transactions).
    assert sum(batches) == 42 and len(batches) < 42
    runner.close()


async def test_a_failed_group_commit_fails_every_write_in_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'readonly.db'}"
    migrate(url)
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=3), url=url))
    # Another process holds the write lock past the busy timeout: BEGIN IMMEDIATE fails.
    blocker = sqlite3.connect(tmp_path / "readonly.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    runner._write_engine = make_engine(
        DatabaseConfig(pool_size=3, sqlite_busy_timeout_ms=50), url=url
    ).execution_options(sqlite_write=True)
    errors: list[BaseException] = []

    async def one(n: int) -> None:
        try:
            await runner.write(_insert_item(f"x{n}"))
        except OperationalError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run_writer)
        async with trio.open_nursery() as writers:
            for n in range(5):
                writers.start_soon(one, n)
        nursery.cancel_scope.cancel()
    blocker.rollback()
    blocker.close()
    assert len(errors) == 5
    assert await runner.read(count_items) == 0
    runner.close()


async def test_postgresql_writes_are_not_grouped(postgres_url: str) -> None:
    migrate(postgres_url)
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=3), url=postgres_url))
    assert not runner.group_writes
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run_writer)
        assert await runner.write(_insert_item("pg1")) == "pg1"
        nursery.cancel_scope.cancel()
    assert await runner.read(count_items) == 1
    runner.close()


async def test_postgresql_cancellation_drops_queued_work_and_waits_for_a_running_write(
    postgres_url: str,
) -> None:
    """One database thread: a write holds it while two more callers queue behind it."""
    migrate(postgres_url)
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=2), url=postgres_url))
    assert runner._threads is not None and runner._threads.count == 1
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow_write(conn: Connection) -> str:
        started.set()
        release.wait(10)
        conn.execute(insert(items).values(barcode="slow", title="t"))
        ran.append("slow")
        return "slow"

    def queued(conn: Connection) -> None:
        ran.append("queued")

    outcome: dict[str, object] = {}

    async def write_then_cancelled(scope: trio.CancelScope) -> None:
        with scope:
            outcome["write"] = await runner.write(slow_write)
        outcome["write_cancelled"] = scope.cancelled_caught

    async def queued_then_cancelled(scope: trio.CancelScope) -> None:
        with scope:
            await runner.write(queued)
        outcome["queued_cancelled"] = scope.cancelled_caught

    write_scope, queued_scope = trio.CancelScope(), trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(write_then_cancelled, write_scope)
        await trio.to_thread.run_sync(started.wait)
        nursery.start_soon(queued_then_cancelled, queued_scope)
        await trio.testing.wait_all_tasks_blocked()
        # Both callers are cancelled while the write runs and the other waits in the queue.
        write_scope.cancel()
        queued_scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert "queued_cancelled" in outcome  # the queued one gave up at once
        assert "write_cancelled" not in outcome  # the running write is waited for
        release.set()
    # The write committed and its caller heard the result; the queued work never ran.
    assert outcome["write"] == "slow" and outcome["write_cancelled"] is False
    assert outcome["queued_cancelled"] is True
    assert ran == ["slow"]
    assert await runner.read(count_items) == 1
    runner.close()


async def test_postgresql_a_cancelled_read_is_abandoned(postgres_url: str) -> None:
    migrate(postgres_url)
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=2), url=postgres_url))
    started, release = threading.Event(), threading.Event()

    def slow_read(conn: Connection) -> int:
        started.set()
        release.wait(10)
        return count_items(conn)

    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(runner.read, slow_read)
            await trio.to_thread.run_sync(started.wait)
            scope.cancel()
    # Back here while the read is still running in its thread: it was abandoned, not awaited.
    assert scope.cancelled_caught and not release.is_set()
    release.set()
    assert await runner.read(count_items) == 0  # the thread and its connection carry on
    runner.close()
