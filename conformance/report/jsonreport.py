"""JSON, for tools that want to diff runs or track a vendor's results over time.

The shape is flat and stable: run facts, a summary, and one object per check with its id,
title, section, severity, group, status, detail, notes and transcript (each entry with its
connection number, direction, seconds since the check started and the masked frame text).
Raw bytes are never written: the transcript holds the same masked rendering as the terminal.
"""

from __future__ import annotations

import json
import os
from typing import Any

from conformance.docs import rule_ref
from conformance.mask import Masker
from conformance.model import Report

# 2: statuses "dependent" and "not-run"; per check "rule" and "roots"; in the summary
# "dependent", "not_run", "must_not_run", "root_causes" and "stopped".
SCHEMA_VERSION = 2


def report_dict(report: Report, masker: Masker) -> dict[str, Any]:
    checks: list[dict[str, Any]] = []
    for result in report.results:
        c = result.check
        transcript = []
        for entry in result.transcript:
            if entry.direction == "event":
                text = masker.text(entry.data.decode("utf-8", "replace"))
            else:
                text = masker.frame(entry.data)
            transcript.append(
                {
                    "connection": entry.connection,
                    "direction": entry.direction,
                    "at": entry.at,
                    "text": text,
                }
            )
        checks.append(
            {
                "id": c.id,
                "title": c.title,
                "section": c.section,
                "severity": c.severity.value,
                "group": c.group,
                "status": result.status.value,
                "rule": rule_ref(c),
                "roots": list(result.roots),
                "detail": masker.text(result.detail),
                "notes": [masker.text(n) for n in result.notes],
                "seconds": round(result.seconds, 4),
                "transcript": transcript,
            }
        )
    return {
        "schema": SCHEMA_VERSION,
        "tool": "sip2d-conformance",
        "mode": report.mode,
        "target": report.target,
        "profile": report.profile_name,
        "started": report.started,
        "seconds": round(report.seconds, 3),
        "summary": {
            "passed": report.passed,
            "failed": report.failed,
            "skipped": report.skipped,
            "dependent": report.dependent,
            "not_run": report.not_run,
            "must_failed": [r.check.id for r in report.must_failures],
            "must_not_run": [r.check.id for r in report.must_not_judged],
            "root_causes": report.root_causes(),
            "stopped": None if report.stopped is None else str(report.stopped),
            "exit_code": report.exit_code,
        },
        "checks": checks,
    }


def render_json(report: Report, masker: Masker) -> str:
    return json.dumps(report_dict(report, masker), indent=2, ensure_ascii=False) + "\n"


def write_json(report: Report, masker: Masker, path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render_json(report, masker))
