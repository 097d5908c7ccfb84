"""Where the CPU went during the measured window: the generator's own share and the machine's.

A load generator on the same machine as the server can quietly become the bottleneck, and on
a virtual machine the hypervisor can take time away (steal) that no process sees. Either one
changes what a figure means, so every run reports both: how much of one core the busiest
generator process used, and how the machine's time split into busy, idle and stolen (read
from Linux's ``/proc/stat``; absent elsewhere). A busy generator says "add ``--processes``";
idle time while kiosks were waiting says the run was bound by round trips, not by CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROC_STAT: Final = Path("/proc/stat")
# Columns of the "cpu" line of /proc/stat (proc(5)); guest time is already inside user/nice.
_IDLE_COLUMNS: Final = (3, 4)  # idle, iowait
_STEAL_COLUMN: Final = 7
# A generator process this busy (fraction of one core) may be what limited the run.
GENERATOR_SATURATED: Final = 0.9


@dataclass(frozen=True)
class CpuMark:
    """One reading, taken at the start or the end of the window."""

    wall: float
    process: float
    machine: tuple[int, ...] | None


def machine_counters(path: Path = PROC_STAT) -> tuple[int, ...] | None:
    """The machine-wide jiffy counters (user, nice, system, idle, iowait, irq, softirq, steal)."""
    try:
        with path.open(encoding="ascii") as stat:
            first = stat.readline().split()
    except OSError:
        return None
    if not first or first[0] != "cpu":
        return None
    try:
        return tuple(int(value) for value in first[1:9])
    except ValueError:
        return None


def mark() -> CpuMark:
    return CpuMark(time.perf_counter(), time.process_time(), machine_counters())


def process_share(start: CpuMark, end: CpuMark) -> float:
    """Fraction of one core this process used between the two marks."""
    wall = end.wall - start.wall
    return round((end.process - start.process) / wall, 3) if wall > 0 else 0.0


def machine_shares(start: CpuMark, end: CpuMark) -> dict[str, float] | None:
    """How the machine's time between the marks split: busy, idle and steal (sum to 1)."""
    if start.machine is None or end.machine is None:
        return None
    deltas = [max(b - a, 0) for a, b in zip(start.machine, end.machine, strict=False)]
    total = sum(deltas)
    if total == 0:
        return None
    idle = sum(deltas[i] for i in _IDLE_COLUMNS if i < len(deltas))
    steal = deltas[_STEAL_COLUMN] if len(deltas) > _STEAL_COLUMN else 0
    return {
        "busy": round((total - idle - steal) / total, 3),
        "idle": round(idle / total, 3),
        "steal": round(steal / total, 3),
    }
