"""Running blocking database work from trio.

SQLAlchemy is blocking, so every unit of work that may wait (any write, any PostgreSQL query)
runs in a worker thread behind a ``CapacityLimiter`` sized to the connection pool: at most as
many threads wait on the database as there are connections to give them, and the event loop
keeps serving other kiosks meanwhile. A unit of work is a plain function that receives a
``Connection`` inside a transaction; it commits when the function returns and rolls back when
it raises, so the caller's reply to a kiosk goes out only after the commit.

Reads on SQLite are the exception, by measurement (docs/benchmarks.md): handing a 10-50 µs
indexed read to a thread costs ~300 µs of wake-ups, which caps a daemon at a few thousand
messages per second. In WAL mode a reader never waits for the writer, so short reads run on
the event loop itself, on one dedicated connection whose busy timeout is a few milliseconds.
If SQLite ever does report busy (a checkpoint resetting the WAL, say), that read is retried in a
worker thread with the normal timeout: the event loop is never held for longer than that.

Writes on SQLite are grouped (group commit). SQLite has one writer at a time however many
threads ask, so a thread per write only adds a ~300 µs hop per write and a queue on the lock.
While :meth:`DatabaseRunner.run_writer` runs (the daemon starts it), writes that arrive
together run in one worker thread, in one transaction, each inside its own SAVEPOINT: a write
that raises is rolled back alone and gets its exception, and every write is acknowledged only
after the one COMMIT that makes all of them durable (if that COMMIT fails, they all fail).
Without the writer task (tools, tests) each write is its own transaction in a thread.

PostgreSQL (any server database) runs every unit of work on dedicated database threads
(:mod:`sip2d.storage.dbthreads`), each keeping one connection for its life, so a read costs one
round trip: it runs in autocommit (a single-statement read needs no BEGIN/COMMIT, and under
READ COMMITTED each statement of a transaction takes its own snapshot anyway), nothing is pinged
before it, and the driver prepares hot statements server-side (engine.py). A connection found
dead by the error it raised is discarded and the unit of work retried once on a new one: a
read always, a write when it failed before COMMIT was sent (the server rolled it back). A write
is one transaction; its COMMIT failing on a lost connection is not retried, since it may have
committed. If the database is down the new connection fails too, and the caller (and
``/healthz``) sees that.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import trio
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from sip2d.storage.dbthreads import DatabaseThreads
from sip2d.storage.engine import BEGIN
from sip2d.storage.prepared import Prepared, Savepoint

T = TypeVar("T")

# How long an on-loop read may wait for a SQLite lock before it is moved to a thread.
INLINE_BUSY_TIMEOUT_MS = 5
# Most writes one group commit carries: bounds how long one batch holds SQLite's lock.
MAX_BATCH = 64
_COMMIT = Prepared(text("COMMIT"))
_ROLLBACK = Prepared(text("ROLLBACK"))
_WRITE = Savepoint("sip2d_write")


class _WriteJob(Generic[T]):
    """One unit of write work waiting for, or done by, a group commit."""

    __slots__ = ("done", "error", "fn", "result")

    def __init__(self, fn: Callable[[Connection], T]) -> None:
        self.fn = fn
        self.done = trio.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


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
        # Group commit: only where the database has a single writer anyway (SQLite).
        self.group_writes = engine.dialect.name == "sqlite"
        self._writer_running = False
        self._queue: list[_WriteJob[Any]] = []
        self._queued = trio.Event()
        # Server databases: dedicated threads, each with its own connection. One pooled
        # connection is left for callers outside those threads (read_sync from a tool).
        self._local = threading.local()
        self._threads: DatabaseThreads | None = None
        if engine.dialect.name != "sqlite":
            self._threads = DatabaseThreads(
                max(pool_size - 1, 1), self._on_db_thread, on_exit=self._release_own
            )

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        if getattr(self._local, "own", False):
            return self._run_own(fn, write=False)
        with self.engine.begin() as conn:
            return fn(conn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        if getattr(self._local, "own", False):
            return self._run_own(fn, write=True)
        with self._write_engine.begin() as conn:
            return fn(conn)

    # --- dedicated database threads (server databases) -----------------------------------------

    def _on_db_thread(self, fn: Callable[[Connection], Any], write: bool) -> Any:
        # Through read_sync/write_sync, so a subclass that wraps those sees every unit of work.
        self._local.own = True
        return self.write_sync(fn) if write else self.read_sync(fn)

    def _own_connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.engine.connect()
        return conn

    def _release_own(self) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _discard_own(self, conn: Connection) -> None:
        with contextlib.suppress(Exception):
            conn.invalidate()
        self._release_own()

    def _run_own(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """One unit of work on this thread's connection; retried once if it was found dead."""
        for attempt in (1, 2):
            conn = self._own_connection()
            driver: Any = conn.connection.dbapi_connection
            # A read runs in autocommit: its statement is the one round trip. psycopg changes
            # the mode on the client side only, and only between transactions.
            if driver.autocommit == write:
                driver.autocommit = not write
            transaction = conn.begin()
            try:
                result = fn(conn)
            except BaseException as exc:
                if _connection_lost(conn, driver, exc):
                    self._discard_own(conn)
                    if attempt == 1:
                        continue  # nothing was committed: the server ended that transaction
                    raise
                try:
                    transaction.rollback()
                except Exception:
                    self._discard_own(conn)
                raise
            try:
                transaction.commit()
            except BaseException as exc:
                if _connection_lost(conn, driver, exc):
                    self._discard_own(conn)
                raise  # a COMMIT without an answer may have committed: never run twice
            return result
        raise AssertionError("unreachable")

    def _inline_connection(self) -> Connection:
        if self._inline is None or self._inline.closed or self._inline.invalidated:
            # Held for the runner's lifetime and used only from the event loop thread.
            conn = self.engine.connect()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={INLINE_BUSY_TIMEOUT_MS}")
            conn.commit()
            self._inline = conn
        return self._inline

    @staticmethod
    def _read_inline(conn: Connection, fn: Callable[[Connection], T]) -> T:
        """One read transaction begun and ended on the driver.

        SQLAlchemy's begin/commit pair cost ~20 µs of a ~60 µs patron read (issue #7). Reads
        made of Prepared statements never touch SQLAlchemy's transaction; one that uses
        ``conn.execute`` makes SQLAlchemy begin its own, which joins the one already open (the
        SQLite begin hook sees it) and is then ended by SQLAlchemy, so both sides agree.
        """
        BEGIN.run(conn)
        try:
            result = fn(conn)
        except BaseException:
            if conn.in_transaction():
                conn.rollback()
            else:
                _ROLLBACK.run(conn)
            raise
        if conn.in_transaction():
            conn.commit()
        else:
            _COMMIT.run(conn)
        return result

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read-only unit of work: on the event loop for SQLite, else in a thread."""
        if self._threads is not None:
            return await self._threads.submit(fn, write=False)
        if self.inline_reads:
            await trio.lowlevel.checkpoint()
            conn = self._inline_connection()
            try:
                return self._read_inline(conn, fn)
            except OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        return await trio.to_thread.run_sync(self.read_sync, fn, limiter=self.limiter)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run a unit of work that writes, atomically, in a worker thread; return once durable."""
        if self._threads is not None:
            return await self._threads.submit(fn, write=True)
        if not self._writer_running:
            return await trio.to_thread.run_sync(self.write_sync, fn, limiter=self.limiter)
        job = _WriteJob(fn)
        self._queue.append(job)
        self._queued.set()
        # Once queued the work will run and may commit: wait for the outcome even if this task
        # is being cancelled, so a caller never reports failure for a write that happened.
        with trio.CancelScope(shield=True):
            await job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    async def run_writer(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve :meth:`write` by group commit until cancelled (SQLite only; else returns)."""
        if not self.group_writes:
            task_status.started()
            return
        self._writer_running = True
        task_status.started()
        try:
            while True:
                await self._queued.wait()
                self._queued = trio.Event()
                while self._queue:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    # Shielded: a batch in a thread always finishes, and its waiters must hear.
                    try:
                        with trio.CancelScope(shield=True):
                            await trio.to_thread.run_sync(self._commit_batch, batch)
                    finally:
                        for job in batch:
                            job.done.set()
        finally:
            self._writer_running = False
            # Queued after the last batch (only possible while stopping): run them one by one.
            leftover, self._queue = self._queue, []
            for job in leftover:
                try:
                    job.result = self.write_sync(job.fn)
                except Exception as exc:
                    job.error = exc
                job.done.set()

    def _commit_batch(self, batch: list[_WriteJob[Any]]) -> None:
        try:
            with self._write_engine.begin() as conn:
                for job in batch:
                    try:
                        with _WRITE(conn):
                            job.result = job.fn(conn)
                    except Exception as exc:
                        job.error = exc
                        job.result = None
        except BaseException as exc:
            # BEGIN or COMMIT failed (or a rollback did): none of the batch is durable.
            for job in batch:
                job.error = exc
                job.result = None
            if not isinstance(exc, Exception):
                raise

    def close(self) -> None:
        if self._threads is not None:
            self._threads.close()
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        self.engine.dispose()


def _connection_lost(conn: Connection, driver: Any, exc: BaseException) -> bool:
    """Whether ``exc`` means the connection itself is gone (not a refused statement)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or getattr(driver, "closed", False):
        return True
    if getattr(driver, "broken", False):  # psycopg: the connection was interrupted
        return True
    orig: Any = exc.orig
    return orig is not None and bool(conn.dialect.is_disconnect(orig, driver, None))
