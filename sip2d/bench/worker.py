"""One generator process: its share of the kiosks, a watchdog, and progress reports.

The parent (:mod:`sip2d.bench.runner`) hands each process a :class:`WorkerPlan` and a
:class:`Link`. A process connects and warms up all its kiosks, says it is ready, waits for
the common go, and measures for the same ``duration``; so the measured windows of all
processes coincide, and no login or warm-up falls inside one.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Final, Protocol

import trio

from sip2d.bench.cpu import machine_shares, mark, process_share
from sip2d.bench.dataset import Dataset
from sip2d.bench.kiosk import BenchError, Kiosk, Window
from sip2d.bench.scenarios import SCENARIOS, Credentials, plan_kiosk
from sip2d.bench.stats import Tally

WATCHDOG_INTERVAL: Final = 0.1
PROGRESS_INTERVAL: Final = 0.5


@dataclass(frozen=True)
class WorkerPlan:
    host: str
    port: int
    scenario: str
    kiosks: tuple[int, ...]  # global indexes of this process's kiosks
    total_kiosks: int
    duration: float
    dataset: Dataset
    credentials: Credentials | None
    institution: str = ""
    timeout: float = 10.0
    # More daemons to drive besides host:port: kiosk k goes to target k modulo the count, so
    # several daemons (on one database) share the kiosks evenly.
    also: tuple[tuple[str, int], ...] = ()

    def target(self, kiosk: int) -> tuple[str, int]:
        targets = ((self.host, self.port), *self.also)
        return targets[kiosk % len(targets)]


class Link(Protocol):
    """How a worker talks to whoever started it."""

    async def ready_and_wait(self) -> None:
        """Say this process is ready; return when every process is."""

    def progress(self, answered: int, errors: int) -> None:
        """Running totals for the live progress line (must not block)."""


def raise_fd_limit(wanted: int) -> None:
    """Lift the soft open-files limit towards ``wanted`` (never above the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def run_worker(plan: WorkerPlan, link: Link) -> Tally:
    """Run this process's kiosks through the window; returns what they measured."""
    raise_fd_limit(len(plan.kiosks) + 256)
    scenario = SCENARIOS[plan.scenario]
    plans = [
        plan_kiosk(
            scenario,
            plan.dataset,
            index,
            plan.total_kiosks,
            credentials=plan.credentials,
            institution=plan.institution,
        )
        for index in plan.kiosks
    ]
    tally = Tally()
    window = Window()
    kiosks = [Kiosk(p, *plan.target(p.index), tally) for p in plans]
    send_ready, receive_ready = trio.open_memory_channel[int](len(kiosks))
    try:
        await _run_kiosks(kiosks, window, tally, plan, link, send_ready, receive_ready)
    except BaseExceptionGroup as group:
        raise first_bench_error(group) from None
    link.progress(tally.answered, tally.error_count)
    return tally


def first_bench_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first BenchError in a nursery's group (what to tell the user), else the group.

    Several kiosks usually fail for the same reason at once (a wrong password, a server
    gone); one line saying it is the useful report.
    """
    matched, _ = group.split(BenchError)
    if matched is None:
        return group
    leaf: BaseException = matched
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


async def _run_kiosks(
    kiosks: list[Kiosk],
    window: Window,
    tally: Tally,
    plan: WorkerPlan,
    link: Link,
    send_ready: trio.MemorySendChannel[int],
    receive_ready: trio.MemoryReceiveChannel[int],
) -> None:
    async with trio.open_nursery() as background:
        background.start_soon(_watchdog, kiosks, plan.timeout)
        async with trio.open_nursery() as nursery:
            for kiosk in kiosks:
                nursery.start_soon(kiosk.run, window, send_ready)
            for _ in kiosks:
                await receive_ready.receive()
            await link.ready_and_wait()
            window.open(plan.duration)
            started = mark()
            tally.window = plan.duration
            background.start_soon(_progress, tally, window, link)
        # Every kiosk has returned: the window is closed and their sessions are finished.
        # The CPU reading spans the window and that short finish, so it is a fair share.
        ended = mark()
        tally.generator_cpu = [process_share(started, ended)]
        tally.machine_cpu = machine_shares(started, ended)
        background.cancel_scope.cancel()


async def _watchdog(kiosks: list[Kiosk], timeout: float) -> None:
    while True:
        await trio.sleep(WATCHDOG_INTERVAL)
        now = time.perf_counter()
        for kiosk in kiosks:
            kiosk.overdue(now, timeout)


async def _progress(tally: Tally, window: Window, link: Link) -> None:
    while True:
        link.progress(tally.answered, tally.error_count)
        await trio.sleep(PROGRESS_INTERVAL)
