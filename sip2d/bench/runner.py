"""Running a benchmark: splitting the kiosks over processes and gathering what they measured.

With ``processes=1`` everything runs in the calling process (no start-up cost, and tests can
drive it directly). With more, each process is *spawned* (a fresh interpreter: forking a
parent that may hold threads or an event loop is unsafe) and runs its share of the kiosks
under its own trio loop; on a small machine a second process keeps the generator from being
the bottleneck, since one Python process saturates one core well before the server does.
Processes talk to the parent over one queue (ready, progress, result or error) and wait for
one event (go), so the measurement windows of all processes start together.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from sip2d.bench.dataset import Dataset
from sip2d.bench.kiosk import BenchError
from sip2d.bench.scenarios import SCENARIOS, Credentials, plan_kiosk
from sip2d.bench.stats import Tally, summarise
from sip2d.bench.worker import WorkerPlan, run_worker

# Progress callback: seconds since go (0 before), messages answered, errors.
ProgressCallback = Callable[[float, int, int], None]
POLL_SECONDS: Final = 0.25


@dataclass(frozen=True)
class BenchOptions:
    host: str
    port: int
    scenario: str = "keepalive"
    kiosks: int = 10
    duration: float = 10.0
    processes: int = 1
    dataset: Dataset = field(default_factory=Dataset)
    credentials: Credentials | None = None
    institution: str = ""
    timeout: float = 10.0
    also: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}")
        if self.kiosks < 1 or self.processes < 1 or self.duration <= 0 or self.timeout <= 0:
            raise ValueError("kiosks, processes, duration and timeout must be positive")

    def worker_plans(self) -> list[WorkerPlan]:
        count = min(self.processes, self.kiosks)
        return [
            WorkerPlan(
                host=self.host,
                port=self.port,
                scenario=self.scenario,
                kiosks=tuple(range(p, self.kiosks, count)),
                total_kiosks=self.kiosks,
                duration=self.duration,
                dataset=self.dataset,
                credentials=self.credentials,
                institution=self.institution,
                timeout=self.timeout,
                also=self.also,
            )
            for p in range(count)
        ]

    def meta(self) -> dict[str, Any]:
        return {
            "target": ", ".join(
                f"{host}:{port}" for host, port in ((self.host, self.port), *self.also)
            ),
            "scenario": self.scenario,
            "kiosks": self.kiosks,
            "processes": min(self.processes, self.kiosks),
            "duration": self.duration,
            "dataset": {"patrons": self.dataset.patrons, "items": self.dataset.items},
        }


def check_plan(options: BenchOptions) -> None:
    """Fail before connecting when the dataset cannot serve the scenario (ScenarioError)."""
    scenario = SCENARIOS[options.scenario]
    for kiosk in {0, options.kiosks - 1}:
        plan_kiosk(
            scenario, options.dataset, kiosk, options.kiosks, credentials=options.credentials
        )


def run_bench(options: BenchOptions, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Run the benchmark and return the summary (the ``--json`` object)."""
    check_plan(options)
    plans = options.worker_plans()
    if len(plans) == 1:
        tally = trio.run(run_worker, plans[0], _InlineLink(progress))
    else:
        tally = _run_processes(plans, progress)
    return summarise(tally, options.meta())


class _InlineLink:
    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.started = 0.0

    async def ready_and_wait(self) -> None:
        self.started = time.perf_counter()

    def progress(self, answered: int, errors: int) -> None:
        if self.callback is not None and self.started:
            self.callback(time.perf_counter() - self.started, answered, errors)


class _QueueLink:
    def __init__(self, number: int, messages: Any, go: Any) -> None:
        self.number = number
        self.messages = messages
        self.go = go

    async def ready_and_wait(self) -> None:
        self.messages.put(("ready", self.number))
        await trio.to_thread.run_sync(self.go.wait)

    def progress(self, answered: int, errors: int) -> None:
        self.messages.put(("progress", self.number, answered, errors))


def _worker_process(number: int, plan: WorkerPlan, messages: Any, go: Any) -> None:
    """Entry point of a spawned generator process."""
    try:
        tally = trio.run(run_worker, plan, _QueueLink(number, messages, go))
    except BenchError as exc:
        messages.put(("error", number, str(exc)))
    except KeyboardInterrupt:
        messages.put(("error", number, "interrupted"))
    except BaseException as exc:
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        messages.put(("error", number, f"generator process failed: {detail}"))
    else:
        messages.put(("result", number, tally))


def _run_processes(plans: list[WorkerPlan], progress: ProgressCallback | None) -> Tally:
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    go = context.Event()
    workers = [
        context.Process(
            target=_worker_process,
            args=(n, plan, messages, go),
            name=f"sip2d-bench-{n}",
            daemon=True,
        )
        for n, plan in enumerate(plans)
    ]
    for worker in workers:
        worker.start()
    ready: set[int] = set()
    counts: dict[int, tuple[int, int]] = {}
    results: dict[int, Tally] = {}
    started = 0.0
    try:
        while len(results) < len(workers):
            try:
                message = messages.get(timeout=POLL_SECONDS)
            except queue.Empty:
                dead = [
                    w.name for n, w in enumerate(workers) if n not in results and not w.is_alive()
                ]
                if dead:
                    raise BenchError(
                        f"generator process {dead[0]} exited without a result"
                    ) from None
                continue
            kind, number = message[0], message[1]
            if kind == "ready":
                ready.add(number)
                if len(ready) == len(workers):
                    started = time.perf_counter()
                    go.set()
            elif kind == "progress":
                counts[number] = (message[2], message[3])
                if progress is not None and started:
                    answered = sum(c[0] for c in counts.values())
                    errors = sum(c[1] for c in counts.values())
                    progress(time.perf_counter() - started, answered, errors)
            elif kind == "result":
                results[number] = message[2]
            else:
                raise BenchError(message[2])
    finally:
        if len(results) < len(workers):
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
        for worker in workers:
            worker.join(timeout=5)
    total = Tally()
    for number in sorted(results):
        total.merge(results[number])
    return total


__all__ = ["BenchError", "BenchOptions", "ProgressCallback", "check_plan", "run_bench"]
