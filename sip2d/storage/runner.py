"""Running blocking database work from trio.

SQLAlchemy is blocking, so every unit of work runs in a worker thread behind a
``CapacityLimiter`` sized to the connection pool: at most as many threads wait on the
database as there are connections to give them, and the event loop keeps serving other
kiosks meanwhile. A unit of work is a plain function that receives a ``Connection`` inside a
transaction; it commits when the function returns and rolls back when it raises, so the
caller's reply to a kiosk goes out only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio
from sqlalchemy import Connection, Engine

T = TypeVar("T")


class DatabaseRunner:
    """Async facade over a blocking engine: ``await runner.read(fn)`` / ``write(fn)``."""

    def __init__(self, engine: Engine, limiter: trio.CapacityLimiter | None = None) -> None:
        self.engine = engine
        self.limiter = limiter or trio.CapacityLimiter(engine.pool.size())  # type: ignore[attr-defined]
        self._write_engine = engine.execution_options(sqlite_write=True)

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        with self._write_engine.begin() as conn:
            return fn(conn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read-only unit of work in a worker thread."""
        return await trio.to_thread.run_sync(self.read_sync, fn, limiter=self.limiter)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run a unit of work that writes, in one transaction, in a worker thread."""
        return await trio.to_thread.run_sync(self.write_sync, fn, limiter=self.limiter)
