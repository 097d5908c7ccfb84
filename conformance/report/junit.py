"""JUnit XML, the report format every CI system can display.

One ``<testsuite>`` per group, one ``<testcase>`` per check (``name`` is "ID title"), failures
and skips with their reason as ``message`` and the masked transcript as text. A failed SHOULD is
still a ``<failure>`` (with ``type="SHOULD"``) so it is visible; whether the build is red is the
exit status's decision, which only MUST failures change.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from conformance.docs import rule_ref
from conformance.mask import Masker
from conformance.model import Report, Status
from conformance.report.text import transcript_lines


def render_junit(report: Report, masker: Masker) -> bytes:
    root = ET.Element(
        "testsuites",
        name=f"sip2d-conformance {report.mode}",
        tests=str(len(report.results)),
        failures=str(report.failed),
        skipped=str(report.skipped + report.dependent + report.not_run),
        time=f"{report.seconds:.3f}",
    )
    groups: dict[str, ET.Element] = {}
    for result in report.results:
        c = result.check
        suite = groups.get(c.group)
        if suite is None:
            suite = ET.SubElement(root, "testsuite", name=c.group, timestamp=report.started)
            ET.SubElement(
                ET.SubElement(suite, "properties"),
                "property",
                name="target",
                value=report.target,
            )
            groups[c.group] = suite
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"sip2d-conformance.{report.mode}.{c.id.split('-')[0]}",
            name=f"{c.id} {c.title}",
            time=f"{result.seconds:.3f}",
        )
        detail = masker.text(result.detail)
        if result.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", message=detail, type=c.severity.value)
            body = [f"{c.severity.value} {c.id} ({c.section}): {detail}", f"rule: {rule_ref(c)}"]
            body += [f"note: {masker.text(n)}" for n in result.notes]
            body += transcript_lines(result, masker, "")
            failure.text = "\n".join(body)
        elif result.status is Status.DEPENDENT:
            # Counted once, at its root cause; shown here so the reader sees why it failed.
            ET.SubElement(case, "skipped", message=detail, type="dependent")
        elif result.status in (Status.SKIP, Status.NOT_RUN):
            ET.SubElement(case, "skipped", message=detail)
        if result.notes and result.status is not Status.FAIL:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(masker.text(n) for n in result.notes)
    for suite in groups.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for t in cases if t.find("failure") is not None)))
        suite.set("skipped", str(sum(1 for t in cases if t.find("skipped") is not None)))
        suite.set("errors", "0")
        suite.set("time", f"{sum(float(t.get('time', '0')) for t in cases):.3f}")
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def write_junit(report: Report, masker: Masker, path: str | os.PathLike[str]) -> None:
    with open(path, "wb") as fh:
        fh.write(render_junit(report, masker))
