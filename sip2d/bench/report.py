"""What a person reads: the live progress line and the end-of-run report.

Both are made from the same summary object that ``--json`` writes, so a script and a person
never see different numbers. The progress line is drawn only on a terminal (a log file or a
pipe gets the final report alone).
"""

from __future__ import annotations

from typing import Any, TextIO

from sip2d.bench.cpu import GENERATOR_SATURATED

LATENCY_COLUMNS = ("count", "p50", "p95", "p99", "max")


class ProgressLine:
    """``\\r``-rewritten status line: elapsed, answered, rate, errors."""

    def __init__(self, stream: TextIO, duration: float) -> None:
        self.stream = stream
        self.duration = duration
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = False

    def __call__(self, elapsed: float, answered: int, errors: int) -> None:
        if not self.enabled:
            return
        shown = min(elapsed, self.duration)
        rate = answered / shown if shown > 0 else 0.0
        self.stream.write(
            f"\r{shown:6.1f}/{self.duration:.0f} s  {answered:>10,} answered  "
            f"{rate:>9,.0f} msg/s  {errors:,} errors "
        )
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def format_report(summary: dict[str, Any]) -> str:
    """The human-readable report of one run."""
    lines = [
        f"sip2d bench: {summary['scenario']} against {summary['target']}, "
        f"{summary['kiosks']} kiosks in {summary['processes']} process(es), "
        f"{summary['seconds']:.1f} s",
        "",
        f"  messages:  {summary['messages']:>10,}  ({summary['messages_per_second']:,.1f}/s)",
    ]
    if summary["sessions"] or summary["loans"]:
        lines.append(
            f"  sessions:  {summary['sessions']:>10,}  ({summary['sessions_per_second']:,.2f}/s)"
        )
        lines.append(
            f"  loans:     {summary['loans']:>10,}  ({summary['loans_per_second']:,.1f}/s)"
        )
    errors = summary["errors"]
    if errors:
        detail = ", ".join(f"{kind} {count:,}" for kind, count in errors.items())
        lines.append(f"  errors:    {summary['error_count']:>10,}  ({detail})")
    else:
        lines.append("  errors:             0")
    lines += _cpu_lines(summary)
    lines += ["", "  latency (ms)   " + "".join(f"{c:>10}" for c in LATENCY_COLUMNS)]
    for label, values in summary["latency_ms"].items():
        cells = [f"{values['count']:>10,}"] + [f"{values[c]:>10.2f}" for c in LATENCY_COLUMNS[1:]]
        name = "all" if label == "all" else f"{label}"
        lines.append(f"  {name:<13}" + "".join(cells))
    return "\n".join(lines)


def _cpu_lines(summary: dict[str, Any]) -> list[str]:
    """Whether the generator or the machine, rather than the server, may have set the pace."""
    generator = summary["generator_cpu"]
    lines = [
        f"  generator: busiest process {generator['busiest']:.0%} of a core "
        f"({generator['processes']} process(es), {generator['total']:.2f} cores in all)"
    ]
    if generator["busiest"] >= GENERATOR_SATURATED:
        lines.append(
            "             near a full core: the generator may be the limit; "
            "add --processes (one per free core)"
        )
    machine = summary["machine_cpu"]
    if machine is not None:
        lines.append(
            f"  machine:   {machine['busy']:.0%} busy, {machine['idle']:.0%} idle, "
            f"{machine['steal']:.0%} stolen by the hypervisor"
        )
    return lines
