"""The pure parts of the suite: frame splitting, problem sorting, field order, masking.

These take untrusted bytes (whatever a server or kiosk sends), so the central ones are property
tests: splitting must not depend on how TCP cut the stream, judging must never raise, and
masking must never let a secret through.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance import judge
from conformance.mask import Masker
from conformance.wire import Frame, FrameSplitter
from sip2d.protocol import (
    PatronStatusResponse,
    encode,
)


def frames_of(chunks: list[bytes]) -> list[Frame]:
    splitter = FrameSplitter()
    found: list[Frame] = []
    for chunk in chunks:
        splitter.feed(chunk)
        while (frame := splitter.next_frame()) is not None:
            found.append(frame)
    return found


def test_splitter_keeps_terminators_and_stray_bytes() -> None:
    frames = frames_of([b"941\r", b"\n98YY\r\n", b"\r", b"99\n"])
    assert [(f.body, f.terminator, f.leading) for f in frames] == [
        (b"941", b"\r", b""),
        (b"98YY", b"\r\n", b"\n"),
        (b"99", b"\n", b"\r"),
    ]


@given(
    st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=8),
    st.lists(st.integers(min_value=0, max_value=300), max_size=6),
)
def test_splitting_does_not_depend_on_segmentation(pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"\r".join(pieces) + b"\r"
    whole = frames_of([stream])
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    split = frames_of(chunks)
    # The same frames, and no byte lost or invented: an LF cut off its CR becomes the next
    # frame's leading bytes instead of part of the terminator, which is all that may differ.
    assert [f.body for f in split] == [f.body for f in whole]
    assert stream.startswith(b"".join(f.raw for f in split))
    assert stream.startswith(b"".join(f.raw for f in whole))


@given(st.binary(max_size=300))
def test_judging_never_raises(data: bytes) -> None:
    frame = Frame(data.replace(b"\r", b"").replace(b"\n", b"") or b"x", b"\r")
    for rule, text in judge.format_problems(frame, "utf-8"):
        assert rule.startswith("FD-") and text
    judge.order_problem(frame, "utf-8")
    judge.read(frame, "utf-8")


def test_problems_are_sorted_into_rules() -> None:
    cases = {
        "required field missing": judge.REQUIRED,
        "frame too short: the fixed part needs 35 characters": judge.FIXED_LENGTH,
        "unexpected data after the fixed part": judge.FIXED_LENGTH,
        "flag must be Y or N": judge.FLAGS,
        "positions must be Y or space": judge.FLAGS,
        "BX must be 16 Y/N flags, got 15": judge.FLAGS,
        "date must be 18 characters, got 17": judge.DATES,
        "time-zone part must be four spaces or three spaces and a zone letter": judge.DATES,
        "count must be 4 digits or 4 spaces": judge.NUMBERS,
        "must be 3 digits": judge.NUMBERS,
        "last variable field is not terminated by |": judge.DELIMITERS,
        "empty field (||)": judge.DELIMITERS,
        "value longer than 255 bytes": judge.VALUES,
        "bytes are not valid utf-8": judge.VALUES,
        "field repeated (first kept)": judge.FIELD_SYNTAX,
        "malformed field code": judge.FIELD_SYNTAX,
    }
    for reason, rule in cases.items():
        assert judge.rule_of(reason) == rule, reason


def test_field_order_ignores_extensions_and_unknown_fields() -> None:
    good = Frame(b"10100N20250102    101112AOMAIN|AB1|AQX|CRcoll|CLbin|ZZx|", b"\r")
    assert judge.order_problem(good, "utf-8") is None  # CR is an extension, ZZ unknown
    late = Frame(b"24              00020250102    101112AA1|AE|AOMAIN|", b"\r")
    assert judge.order_problem(late, "utf-8") == (
        "AO comes after AE; the reference orders AO first"
    )


def test_masking_by_field_and_by_value() -> None:
    masker = Masker(["4826", "kiosk-pass"])
    login = masker.frame(b"9300CNkiosk1|COanything|CPX|AY0AZF000\r")
    assert login == "9300CNkiosk1|CO***|CPX|AY0AZF000<CR>"
    status = masker.frame(b"2300020250102    101112AOMAIN|AA1001|AC|AD4826|AY1AZABCD\r\n")
    assert "4826" not in status and "AC|AD***|" in status and status.endswith("<CR><LF>")
    assert masker.text("the PIN 4826 and kiosk-pass") == "the PIN *** and ***"
    assert masker.frame(b"\x00x" * 300).endswith("(600 bytes)")


@given(st.text(alphabet="0123456789", min_size=4, max_size=8), st.text(max_size=20))
def test_a_pin_never_survives_masking(pin: str, name: str) -> None:
    frame = encode(
        PatronStatusResponse(
            transaction_date=None,
            institution_id="MAIN",
            patron_identifier="1001",
            personal_name=name + pin,
        )
    )
    request = b"2300020250102    101112AOMAIN|AA1001|AC|AD" + pin.encode() + b"|\r"
    masker = Masker([pin])
    assert pin not in masker.frame(frame)
    assert pin not in masker.frame(request)


def test_value_forms_and_leaked_representations() -> None:
    """FD-11/FD-12: the OpenNCIP answer to a 65 for an unknown patron, and values that only
    look alike (an e-mail address, a title with parentheses) which must pass."""
    leak = Frame(b"660000000000020250102    101112AOMAIN|BMARRAY(0x555ca0f869c0)|", b"\r")
    assert [rule for rule, _ in judge.value_problems(leak, "utf-8")] == [judge.LEAKED]
    odd = Frame(
        b"24              00020250102    101112AOMAIN|AA1|AE|BHUS|BV1,50|"
        b"AF<app.Patron object at 0x7f00aa>|AGorg.ils.Item@1a2b3c|",
        b"\r",
    )
    found = judge.value_problems(odd, "utf-8")
    assert [rule for rule, _ in found] == [judge.VALUE_FORMS] * 2 + [judge.LEAKED] * 2
    fine = Frame(
        b"64              00020250102    101112000000000000000000000000AOMAIN|AA1|AEAnn|"
        b"BHUSD|BV-2.50|CC10|BEann@example.org|AFHASH(tag) and ARRAY of hope|",
        b"\r",
    )
    assert judge.value_problems(fine, "utf-8") == []


def test_the_check_list_in_docs_is_current() -> None:
    """docs/conformance-checks.md is what ``python -m conformance.docs`` writes, and every
    section a check cites is named there."""
    from pathlib import Path

    from conformance import docs
    from conformance.checks import SERVER_CHECKS
    from conformance.kiosk.checks import KIOSK_CHECKS

    committed = Path(__file__).resolve().parents[2] / docs.DOC_PATH
    assert committed.read_text(encoding="utf-8") == docs.render(), "run: python -m conformance.docs"
    for c in (*SERVER_CHECKS, *KIOSK_CHECKS):
        assert docs.parts(c.section), c.id
        assert f'<a id="{docs.anchor(c)}"></a>' in committed.read_text(encoding="utf-8")


def test_the_report_says_how_many_must_checks_did_not_run() -> None:
    """Item 6 of issue 19: "no MUST check failed" is never printed alone when MUST checks were
    skipped; dependent checks name their root and are counted once."""
    from conformance.checks import by_id
    from conformance.model import CheckResult, Report, Status
    from conformance.report import render_json, render_text

    checks = by_id()
    results = [
        CheckResult(checks["SE-01"], Status.PASS),
        CheckResult(checks["MS-65"], Status.SKIP, "the server's BX does not announce message 65"),
        CheckResult(checks["CX-01"], Status.SKIP, "changes data: run with --allow-changes"),
        CheckResult(checks["FR-02"], Status.FAIL, "expected a 18 response, got '96'"),
    ]
    report = Report("server", "sip2://x:1", "p", "now", results)
    text = render_text(report, Masker([]))
    assert "no MUST check failed\n2 MUST checks did not run (skipped or not run): MS-65, CX-01" in (
        text
    )
    assert "rule: docs/conformance-checks.md#fr-02" in text
    assert report.exit_code == 0
    root = CheckResult(checks["FR-12"], Status.FAIL, "closed")
    dependent = CheckResult(
        checks["MS-11"], Status.DEPENDENT, "same root cause as FR-12: closed", roots=("FR-12",)
    )
    report = Report("server", "sip2://x:1", "p", "now", [root, dependent])
    text = render_text(report, Masker([]))
    assert "root cause FR-12 also made these fail: MS-11" in text
    assert "MUST failures (1): FR-12" in text
    assert report.summary_line() == "conformance: 0 passed, 1 failed, 0 skipped, 1 dependent"
    assert '"root_causes": {\n      "FR-12": [\n        "MS-11"' in render_json(report, Masker([]))
