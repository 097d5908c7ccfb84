"""The terminal report: every check on one line, grouped; failures with their frames.

Written for a person at a terminal or reading a CI log: passes are one line each, a failure adds
its reason, its notes and the frames sent (``>>``) and received (``<<``) on each of the check's
connections (``[1]``, ``[2]``...), and the run ends with the MUST failures and the summary line
``conformance: N passed, N failed, N skipped`` that CI log scrapers understand.
"""

from __future__ import annotations

from conformance.docs import rule_ref
from conformance.mask import Masker
from conformance.model import CheckResult, Report, Severity, Status

_ARROWS = {"sent": ">>", "received": "<<", "event": "--"}
_LABEL = {
    Status.PASS: "PASS",
    Status.FAIL: "FAIL",
    Status.SKIP: "skip",
    Status.DEPENDENT: "DEP ",
    Status.NOT_RUN: "n/r ",
}
_COLOURS = {
    Status.PASS: "32",
    Status.FAIL: "31",
    Status.SKIP: "33",
    Status.DEPENDENT: "35",
    Status.NOT_RUN: "33",
}


def _label(status: Status, colour: bool) -> str:
    text = _LABEL[status]
    return f"\x1b[{_COLOURS[status]}m{text}\x1b[0m" if colour else text


def transcript_lines(result: CheckResult, masker: Masker, indent: str = "      ") -> list[str]:
    lines: list[str] = []
    for entry in result.transcript:
        where = f"[{entry.connection}]" if entry.connection else "[*]"
        arrow = _ARROWS.get(entry.direction, "??")
        if entry.direction == "event":
            text = masker.text(entry.data.decode("utf-8", "replace"))
        else:
            text = masker.frame(entry.data)
        lines.append(f"{indent}{where} {arrow} {text}")
    return lines


def _result_lines(result: CheckResult, masker: Masker, colour: bool, verbose: bool) -> list[str]:
    c = result.check
    label = _label(result.status, colour)
    lines = [f"  {label}  {c.id:<6} {c.severity.value:<6} {c.title} ({c.section})"]
    if result.status in (Status.SKIP, Status.NOT_RUN):
        what = "skipped" if result.status is Status.SKIP else "not run"
        detail = masker.text(result.detail).removeprefix("not run: ")
        lines.append(f"        {what}: {detail}")
        return lines
    if result.status is Status.DEPENDENT:
        lines.append(f"        {masker.text(result.detail)}")
        return lines
    if result.status is Status.FAIL:
        for part in masker.text(result.detail).split("\n"):
            lines.append(f"        {part}")
        lines.append(f"        rule: {rule_ref(c)}")
    if result.status is Status.FAIL or verbose:
        lines.extend(f"        note: {masker.text(n)}" for n in result.notes)
    if result.status is Status.FAIL:
        lines.extend(transcript_lines(result, masker, "        "))
    return lines


def render_text(
    report: Report, masker: Masker, *, colour: bool = False, verbose: bool = False
) -> str:
    lines = [
        f"sip2d-conformance {report.mode} mode: {report.target}",
        f"profile: {report.profile_name}    started {report.started}    "
        f"took {report.seconds:.1f} s",
    ]
    group = None
    for result in report.results:
        if result.check.group != group:
            group = result.check.group
            lines.append("")
            lines.append(group)
        lines.extend(_result_lines(result, masker, colour, verbose))
    lines.append("")
    lines.extend(closing_lines(report))
    return "\n".join(lines) + "\n"


def closing_lines(report: Report) -> list[str]:
    """Where the server stopped, the root causes, the MUST failures and the MUST checks that
    did not run (so "no MUST check failed" is never read as "every MUST check passed"), and
    the summary line."""
    lines: list[str] = []
    if report.stopped is not None:
        lines.append(f"{report.stopped}: {report.not_run} checks not run")
    for root, dependents in report.root_causes().items():
        lines.append(f"root cause {root} also made these fail: {', '.join(dependents)}")
    must = report.must_failures
    if must:
        lines.append(f"MUST failures ({len(must)}): " + ", ".join(r.check.id for r in must))
    else:
        lines.append("no MUST check failed")
    unjudged = report.must_not_judged
    if unjudged:
        ids = ", ".join(r.check.id for r in unjudged)
        noun = "check" if len(unjudged) == 1 else "checks"
        lines.append(f"{len(unjudged)} MUST {noun} did not run (skipped or not run): {ids}")
    musts = [r for r in report.results if r.check.severity is Severity.MUST]
    passed = sum(1 for r in musts if r.status is Status.PASS)
    lines.append(f"MUST checks passed: {passed} of {len(musts)}")
    lines.append(report.summary_line())
    return lines
