"""``python -m conformance.docs``: write docs/conformance-checks.md from the check registry.

Why generated: the list of checks lives in code (:data:`conformance.checks.SERVER_CHECKS`,
:data:`conformance.kiosk.checks.KIOSK_CHECKS`), and a hand-kept copy would drift. Every report
cites a failed check's rule by its anchor in that file (:func:`rule_ref`), so a vendor reading a
report finds the rule, its severity and the SIP2 2.00 part it comes from in this repository.
``python -m conformance.docs --check`` exits 1 when the committed file is not current (a test
runs the same comparison).

Sections: the checks cite the sections of the protocol reference the suite was written from;
:data:`PARTS` names the SIP2 2.00 part each stands for, so the file reads without that
reference. ``Pn`` (interoperability pitfalls) and ``En`` (worked examples) are practice
observed across implementations, not text of the 2.00 specification, and are listed as such.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from conformance.model import Check

DOC_PATH = "docs/conformance-checks.md"

PARTS: dict[str, str] = {
    "§1": "Model and session flow",
    "§2.1": "Message layout: fixed fields, then variable fields ending in |",
    "§2.2": "Message terminator (CR)",
    "§2.3": "Field delimiter and characters a value may not hold",
    "§2.4": "Character sets",
    "§2.5": "Field and message lengths (variable fields 0-255 characters)",
    "§2.6": "Reading messages from a byte stream",
    "§3.1": "Error detection: the checksum",
    "§3.2": "Error detection: verifying the checksum",
    "§3.4": "Error detection: sequence numbers, 96 Request SC Resend and 97 Request ACS Resend",
    "§3.5": "Error detection switched off",
    "§4.1": "Date and time fields (18 characters, YYYYMMDDZZZZHHMMSS)",
    "§4.2": "One-character flags (0/1, Y/N, Y/N/U, Y/space)",
    "§4.3": "Counts and limits",
    "§4.4": "Amounts and currency",
    "§5.1": "Patron status (14 characters)",
    "§5.2": "Summary (10 characters)",
    "§5.3": "Supported messages (BX, 16 characters)",
    "§5.4": "Circulation status",
    "§5.6": "Fee type",
    "§5.8": "Media type",
    "§5.10": "Other enumerations",
    "§6": "Field identifiers and their formats",
    "§7": "Messages",
    "§7.1": "Login (93/94)",
    "§7.2": "SC Status (99) and ACS Status (98)",
    "§7.3": "Request SC/ACS Resend (96/97)",
    "§7.4": "Patron Status Request and Response (23/24)",
    "§7.5": "Block Patron (01)",
    "§7.6": "Patron Information (63/64)",
    "§7.7": "Checkout (11/12)",
    "§7.8": "Checkin (09/10)",
    "§7.9": "Item Information (17/18)",
    "§7.10": "Item Status Update (19/20)",
    "§7.11": "Patron Enable (25/26)",
    "§7.12": "End Patron Session (35/36)",
    "§7.13": "Fee Paid (37/38)",
    "§7.14": "Hold (15/16)",
    "§7.15": "Renew (29/30)",
    "§7.16": "Renew All (65/66)",
    "§7.17": "Fixed-part lengths of every message",
    "§8": "Extension fields (not in 2.00)",
    "§9.2": "Messages before Login",
    "§9.3": "Refusals: answering with the matching response",
    "§9.4": "Unknown message ids",
    "§9.5": "Output rules",
    "§11": "Examples",
}
_TOKEN = re.compile(r"§[0-9.]+|[PE][0-9]+")


def anchor(check: Check) -> str:
    return check.id.lower()


def rule_ref(check: Check) -> str:
    """Where a check's rule is written down, for reports to cite."""
    return f"{DOC_PATH}#{anchor(check)}"


def parts(section: str) -> str:
    """The SIP2 2.00 parts a check's ``section`` names, in words."""
    named: list[str] = []
    for token in _TOKEN.findall(section):
        if token.startswith("P"):
            named.append(f"interoperability pitfall {token} (practice, not 2.00 text)")
        elif token.startswith("E"):
            named.append(f"worked example {token}")
        else:
            named.append(PARTS[token])
    return "; ".join(named)


def _needs(check: Check) -> str:
    return ", ".join(f"--allow-{need}" for need in check.needs) or "-"


def _why(check: Check) -> str:
    doc = inspect.getdoc(check.run)
    return " ".join(doc.split()) if doc else ""


def _table(checks: tuple[Check, ...]) -> list[str]:
    lines: list[str] = []
    group = None
    for c in checks:
        if c.group != group:
            group = c.group
            lines += ["", f"### {group}", ""]
        lines.append(f'<a id="{anchor(c)}"></a>**{c.id}** ({c.severity.value}) - {c.title}.')
        lines.append(f"SIP2 2.00: {parts(c.section)} ({c.section}).")
        extra = []
        if c.needs:
            extra.append(f"Runs only with {_needs(c)}.")
        if c.review:
            extra.append("Judged over every frame of the run.")
        if c.isolates is not None:
            extra.append("Names a root cause: other checks that failed only for want of an "
                         "answer to such requests are marked dependent on it.")  # fmt: skip
        if why := _why(c):
            extra.append(why)
        if extra:
            lines.append(" ".join(extra))
        lines.append("")
    return lines


def render() -> str:
    """The whole of docs/conformance-checks.md."""
    from conformance.checks import SERVER_CHECKS
    from conformance.kiosk.checks import KIOSK_CHECKS

    lines = [
        "# Conformance checks",
        "",
        "Generated by `python -m conformance.docs` from the check registry; do not edit by",
        "hand. Each check states one rule. MUST: the SIP2 2.00 protocol requires it, and a",
        "failure makes the run fail. SHOULD: interoperability advice, reported but not failing",
        "the run. Reports cite a failed check's rule here by its anchor (`#fr-12`). The",
        "section numbers are those of the protocol reference the suite was written from; the",
        "text beside them names the SIP2 2.00 part they stand for. See",
        "[conformance.md](conformance.md) for how to run the suite and read its reports.",
        "",
        f"## Server mode ({len(SERVER_CHECKS)} checks)",
        *_table(SERVER_CHECKS),
        f"## Kiosk mode ({len(KIOSK_CHECKS)} checks)",
        *_table(KIOSK_CHECKS),
    ]
    while lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    target = root / DOC_PATH
    text = render()
    if "--check" in argv:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is not current: run python -m conformance.docs", file=sys.stderr)
            return 1
        return 0
    target.parent.mkdir(exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
