"""Counting what the kiosks saw, merging it across processes, and summarising it.

Each generator process keeps one :class:`Tally`: every latency as a float in an
``array('d')`` per request id (8 bytes a message: a minute at 20,000 messages a second is
under 10 MB), counters of ok and refused answers, errors by kind, completed sessions and
loans. Keeping every sample instead of a histogram makes the percentiles exact and the merge
trivial; the arrays pickle compactly on their way back to the parent.

Refused answers count as errors too (``refused:<id>``): every scenario is built so that the
server should say yes, so a refusal means the benchmark is not measuring what it claims.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (50, 95, 99)


@dataclass
class Tally:
    latencies: dict[str, array[float]] = field(default_factory=dict)
    ok: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    loans: int = 0
    # Seconds of measurement this tally covers (the same window in every process).
    window: float = 0.0
    # Per generator process, the fraction of one core it used in the window (bench.cpu).
    generator_cpu: list[float] = field(default_factory=list)
    # How the machine's time split in the window; every process sees the same, one is kept.
    machine_cpu: dict[str, float] | None = None

    def samples(self, label: str) -> array[float]:
        found = self.latencies.get(label)
        if found is None:
            found = self.latencies[label] = array("d")
        return found

    @property
    def answered(self) -> int:
        return sum(self.ok.values()) + sum(self.refused.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def merge(self, other: Tally) -> None:
        for label, values in other.latencies.items():
            self.samples(label).extend(values)
        self.ok.update(other.ok)
        self.refused.update(other.refused)
        self.errors.update(other.errors)
        self.sessions += other.sessions
        self.loans += other.loans
        self.window = max(self.window, other.window)
        self.generator_cpu.extend(other.generator_cpu)
        if self.machine_cpu is None:
            self.machine_cpu = other.machine_cpu


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def latency_summary(values: array[float] | list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    summary: dict[str, float | int] = {"count": len(ordered)}
    for pct in PERCENTILES:
        summary[f"p{pct}"] = round(percentile(ordered, pct) * 1000, 3)
    summary["max"] = round(ordered[-1] * 1000, 3) if ordered else 0.0
    summary["mean"] = round(sum(ordered) / len(ordered) * 1000, 3) if ordered else 0.0
    return summary


def summarise(tally: Tally, meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON object ``sip2d bench --json`` writes (and the text report is made from)."""
    window = tally.window or 1e-9
    answered = tally.answered
    latency: dict[str, Any] = {
        label: latency_summary(values) for label, values in sorted(tally.latencies.items())
    }
    everything: list[float] = []
    for values in tally.latencies.values():
        everything.extend(values)
    latency["all"] = latency_summary(everything)
    errors = dict(tally.errors)
    for label, count in tally.refused.items():
        errors[f"refused:{label}"] = count
    return {
        **meta,
        "seconds": round(tally.window, 3),
        "messages": answered,
        "messages_per_second": round(answered / window, 1),
        "sessions": tally.sessions,
        "sessions_per_second": round(tally.sessions / window, 2),
        "loans": tally.loans,
        "loans_per_second": round(tally.loans / window, 1),
        "errors": dict(sorted(errors.items())),
        "error_count": sum(errors.values()),
        "responses": {
            label: {"ok": tally.ok[label], "refused": tally.refused[label]}
            for label in sorted(set(tally.ok) | set(tally.refused))
        },
        "latency_ms": latency,
        "generator_cpu": {
            "processes": len(tally.generator_cpu),
            "busiest": max(tally.generator_cpu, default=0.0),
            "total": round(sum(tally.generator_cpu), 3),
        },
        "machine_cpu": tally.machine_cpu,
    }
