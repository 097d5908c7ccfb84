"""Dedicated database threads fed by a queue: how blocking work reaches a server database.

For PostgreSQL every query waits on the network, so it cannot run on the event loop with a
blocking driver. ``trio.to_thread`` per unit of work works, but each call goes through trio's
thread cache and capacity limiter, and a thread that happens to run the work owns no connection,
so each unit of work also checked a connection out of the pool (with SQLAlchemy's pre-ping: one
more round trip). Here a fixed set of threads each keeps one connection for its whole life and
takes jobs from one queue: a busy thread picks the next job without sleeping, and the answer
goes back to the waiting task with one ``run_sync_soon`` (what ``to_thread`` does too). The
alternatives were measured (``benchmarks/db_hops.py``, docs/benchmarks.md).

Threads start when work finds none idle (up to ``count``) and end after ``IDLE_SECONDS``
without work, closing their connection, as trio's own thread cache does: a quiet daemon holds
no connections it does not use, and a runner nobody closed (a tool, a test) lets go of its
connections soon after its last use.

Cancellation: a job not yet started is dropped when its task is cancelled. A read already
running is abandoned (reads have no effects; its answer is thrown away). A write already
running is waited for, so a caller never reports failure for a write that committed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

import outcome
import trio

T = TypeVar("T")

_QUEUED: Final = 0
_RUNNING: Final = 1
_DROPPED: Final = 2
# A thread with no work for this long exits and closes its connection.
IDLE_SECONDS: Final = 10.0

# What a database thread calls for each job: run(fn, write) -> fn's result.
Runner = Callable[[Callable[[Any], Any], bool], Any]


class _Job(Generic[T]):
    __slots__ = ("fn", "state", "task", "token", "write")

    def __init__(self, fn: Callable[[Any], T], write: bool) -> None:
        self.fn = fn
        self.write = write
        self.task = trio.lowlevel.current_task()
        self.token = trio.lowlevel.current_trio_token()
        self.state = _QUEUED


class DatabaseThreads:
    """``count`` threads, started on first use, each calling ``run`` for one job at a time."""

    def __init__(
        self,
        count: int,
        run: Runner,
        *,
        on_exit: Callable[[], None] | None = None,
        name: str = "sip2d-db",
    ) -> None:
        self.count = max(count, 1)
        self._run = run
        self._on_exit = on_exit
        self._name = name
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._started = 0
        # Guards a job's move from queued to running against its task's cancellation, and the
        # count of idle threads against a thread deciding to exit.
        self._lock = threading.Lock()

    def _put(self, job: _Job[Any]) -> None:
        with self._lock:
            self._jobs.put(job)
            if self._idle == 0 and len(self._threads) < self.count:
                self._started += 1
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{self._started}", daemon=True
                )
                self._threads.add(thread)
                thread.start()

    async def submit(self, fn: Callable[[Any], T], *, write: bool) -> T:
        """Run ``fn`` on a database thread and return its result (or raise its exception)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        job: _Job[T] = _Job(fn, write)
        self._put(job)

        def abort(_: Any) -> trio.lowlevel.Abort:
            with self._lock:
                if job.state == _QUEUED or not job.write:
                    job.state = _DROPPED
                    return trio.lowlevel.Abort.SUCCEEDED
            return trio.lowlevel.Abort.FAILED

        result: T = await trio.lowlevel.wait_task_rescheduled(abort)
        return result

    def _next(self) -> _Job[Any] | None:
        """The next job, or None when this thread should exit (closed, or idle too long)."""
        with self._lock:
            self._idle += 1
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if not self._jobs.empty():
                        continue  # work arrived as the wait ended: this thread was counted on
                    self._idle -= 1
                    return None
            with self._lock:
                self._idle -= 1
            return job

    def _serve(self) -> None:
        try:
            while True:
                job = self._next()
                if job is None:
                    return
                with self._lock:
                    if job.state == _DROPPED:
                        continue
                    job.state = _RUNNING
                result = outcome.capture(self._run, job.fn, job.write)
                # If the event loop that asked is gone, nobody is waiting.
                with contextlib.suppress(trio.RunFinishedError):
                    job.token.run_sync_soon(_deliver, job, result)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
            if self._on_exit is not None:
                self._on_exit()

    def close(self, timeout: float = 10.0) -> None:
        """Let every thread finish its job in hand and exit (running its ``on_exit``).

        Waits ``timeout`` seconds in all; a thread still stuck in the database after that is a
        daemon thread and does not keep the process alive.
        """
        with self._lock:
            threads = list(self._threads)
            for _ in threads:
                self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))


def _deliver(job: _Job[Any], result: outcome.Outcome[Any]) -> None:
    """On the event loop: wake the waiting task, unless it was cancelled meanwhile."""
    if job.state != _DROPPED:
        trio.lowlevel.reschedule(job.task, result)
