"""The CPU readings that tell a reader whether the generator or the machine set the pace."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from sip2d.bench.cpu import CpuMark, machine_counters, machine_shares, mark, process_share
from sip2d.bench.report import format_report
from sip2d.bench.stats import Tally, summarise


def test_shares_are_computed_from_the_counters_between_two_marks() -> None:
    # user nice system idle iowait irq softirq steal, in jiffies.
    start = CpuMark(wall=10.0, process=1.0, machine=(100, 0, 50, 1000, 10, 0, 5, 20))
    end = CpuMark(wall=12.0, process=2.5, machine=(160, 0, 70, 1090, 10, 0, 10, 40))
    # 60 + 20 + 5 busy, 90 idle, 20 steal: 195 jiffies in all.
    assert machine_shares(start, end) == {
        "busy": round(85 / 195, 3),
        "idle": round(90 / 195, 3),
        "steal": round(20 / 195, 3),
    }
    assert process_share(start, end) == 0.75


def test_no_machine_figures_without_counters_or_elapsed_time() -> None:
    counters = (1, 0, 1, 1, 0, 0, 0, 0)
    assert machine_shares(CpuMark(0.0, 0.0, None), CpuMark(1.0, 0.5, counters)) is None
    assert machine_shares(CpuMark(0.0, 0.0, counters), CpuMark(1.0, 0.5, counters)) is None
    assert process_share(CpuMark(1.0, 0.0, None), CpuMark(1.0, 0.0, None)) == 0.0


@pytest.mark.parametrize("text", ["", "intr 1 2 3\n", "cpu a b c d\n"])
def test_an_unreadable_stat_file_gives_none(tmp_path: Path, text: str) -> None:
    path = tmp_path / "stat"
    path.write_text(text, encoding="ascii")
    assert machine_counters(path) is None
    assert machine_counters(tmp_path / "missing") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_the_real_counters_only_grow_and_their_shares_add_up() -> None:
    start = mark()
    sum(i * i for i in range(200_000))  # some CPU time for this process to account for
    end = mark()
    assert start.machine is not None and end.machine is not None
    assert len(start.machine) == 8
    assert all(b >= a for a, b in zip(start.machine, end.machine, strict=True))
    assert end.process > start.process
    shares = machine_shares(start, end)
    if shares is not None:  # None only if no jiffy passed between the two reads
        assert abs(sum(shares.values()) - 1.0) < 0.01
        assert all(0.0 <= value <= 1.0 for value in shares.values())


def _summary(busiest: float, machine: dict[str, float] | None) -> dict[str, Any]:
    first, second = Tally(window=1.0), Tally(window=1.0)
    first.generator_cpu, first.machine_cpu = [busiest], machine
    second.generator_cpu = [0.25]
    for tally in (first, second):
        tally.samples("99").append(0.001)
        tally.ok["99"] += 1
    merged = Tally()
    merged.merge(first)
    merged.merge(second)
    meta = {"scenario": "keepalive", "target": "x:1", "kiosks": 2, "processes": 2}
    return summarise(merged, meta)


def test_the_summary_keeps_every_process_and_one_machine_reading() -> None:
    machine = {"busy": 0.7, "idle": 0.2, "steal": 0.1}
    summary = _summary(0.5, machine)
    assert summary["generator_cpu"] == {"processes": 2, "busiest": 0.5, "total": 0.75}
    assert summary["machine_cpu"] == machine


def test_the_report_says_when_the_generator_may_have_been_the_limit() -> None:
    busy = format_report(_summary(0.95, {"busy": 0.9, "idle": 0.02, "steal": 0.08}))
    assert "busiest process 95% of a core" in busy
    assert "add --processes" in busy
    assert "8% stolen by the hypervisor" in busy
    calm = format_report(_summary(0.4, None))
    assert "busiest process 40% of a core" in calm
    assert "add --processes" not in calm and "machine:" not in calm
