"""Running blocking database work from trio.

SQLAlchemy is blocking, so every unit of work that may wait (any write, any PostgreSQL query)
runs in a worker thread behind a ``CapacityLimiter`` sized to the connection pool: at most as
many threads wait on the database as there are connections to give them, and the event loop
keeps serving other kiosks meanwhile. A unit of work is a plain function that receives a
``Connection`` inside a transaction; it commits when the function returns and rolls back when
it raises, so the caller's reply to a kiosk goes out only after the commit.

Reads on SQLite are the exception, by measurement (shared/perf-notes.md): handing a 10-50 µs
indexed read to a thread costs ~300 µs of wake-ups, which caps a daemon at a few thousand
messages per second. In WAL mode a reader never waits for the writer, so short reads run on
the event loop itself, on one dedicated connection whose busy timeout is a few milliseconds.
If SQLite ever does report busy (a checkpoint resetting the WAL, say), that read is retried in a
worker thread with the normal timeout: the event loop is never held for longer than that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

T = TypeVar("T")

# How long an on-loop read may wait for a SQLite lock before it is moved to a thread.
INLINE_BUSY_TIMEOUT_MS = 5


class DatabaseRunner:
    """Async facade over a blocking engine: ``await runner.read(fn)`` / ``write(fn)``."""

    def __init__(
        self,
        engine: Engine,
        limiter: trio.CapacityLimiter | None = None,
        *,
        inline_reads: bool | None = None,
    ) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(sqlite_write=True)
        self.inline_reads = (
            engine.dialect.name == "sqlite" if inline_reads is None else inline_reads
        )
        # The on-loop reader keeps one pooled connection for itself; threads share the rest.
        pool_size: int = engine.pool.size()  # type: ignore[attr-defined]
        threads = max(pool_size - 1, 1) if self.inline_reads else pool_size
        self.limiter = limiter or trio.CapacityLimiter(threads)
        self._inline: Connection | None = None

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        with self._write_engine.begin() as conn:
            return fn(conn)

    def _inline_connection(self) -> Connection:
        if self._inline is None or self._inline.closed or self._inline.invalidated:
            # Held for the runner's lifetime and used only from the event loop thread.
            conn = self.engine.connect()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={INLINE_BUSY_TIMEOUT_MS}")
            conn.commit()
            self._inline = conn
        return self._inline

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read-only unit of work: on the event loop for SQLite, else in a thread."""
        if self.inline_reads:
            await trio.lowlevel.checkpoint()
            conn = self._inline_connection()
            try:
                with conn.begin():
                    return fn(conn)
            except OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        return await trio.to_thread.run_sync(self.read_sync, fn, limiter=self.limiter)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run a unit of work that writes, in one transaction, in a worker thread."""
        return await trio.to_thread.run_sync(self.write_sync, fn, limiter=self.limiter)

    def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        self.engine.dispose()
