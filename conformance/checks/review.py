"""Review checks: rules judged over every response the whole run received.

Why run-wide: a format rule (fixed lengths, flags, dates, delimiters, trailers, terminators)
applies to every frame, and judging it once over everything gives one clear failure per broken
rule, with the offending frames, instead of failing every check that happened to receive such a
frame. These checks run after all the others; each failure shows up to five offending exchanges
(the request that was sent and the response that broke the rule).

Reference sections 2, 3, 4, 6 and 7.17 (the fixed-part lengths), and pitfalls P3, P11-P14, P27.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from conformance import judge
from conformance.checks.context import CheckSession
from conformance.model import MUST, SHOULD, Check, CheckFailed, CheckSkipped, check
from conformance.wire import Exchange, Frame
from sip2d.protocol import verify_checksum
from sip2d.protocol.trailer import split_trailer

SHOWN = 5
_AZ_TAIL = re.compile(rb"AZ([0-9A-Za-z]{1,5})$")
_CANONICAL_CHECKSUM = re.compile(rb"[0-9A-F]{4}")


def _report(s: CheckSession, offenders: list[tuple[Exchange, str]], total: int, what: str) -> None:
    """Show the first offending exchanges in the transcript and fail with a summary."""
    if not offenders:
        return
    for exchange, problem in offenders[:SHOWN]:
        s.recorder.event(0, f"{exchange.check_id}, connection {exchange.connection}: {problem}")
        if exchange.request is not None:
            s.recorder.record(0, "sent", exchange.request)
        s.recorder.record(0, "received", exchange.response.raw)
    distinct: list[str] = []
    for _exchange, problem in offenders:
        if problem not in distinct:
            distinct.append(problem)
    more = f" (+{len(distinct) - SHOWN} more kinds)" if len(distinct) > SHOWN else ""
    raise CheckFailed(f"{len(offenders)} of {total} {what}: " + "; ".join(distinct[:SHOWN]) + more)


def _responses(s: CheckSession) -> list[Exchange]:
    if not s.run.exchanges:
        raise CheckSkipped("no responses were received")
    return s.run.exchanges


@functools.lru_cache(maxsize=4096)
def _problems(frame: Frame, encoding: str) -> tuple[tuple[str, str], ...]:
    return tuple(judge.format_problems(frame, encoding))


def _format_check(rule: str, title: str, section: str) -> Check:
    async def run(s: CheckSession) -> None:
        exchanges = _responses(s)
        offenders = [
            (ex, f"{ex.response.message_id}: {text}")
            for ex in exchanges
            for found_rule, text in _problems(ex.response, s.encoding)
            if found_rule == rule
        ]
        _report(s, offenders, len(exchanges), "responses break this rule")

    return check(rule, title, section, MUST, "Field formats", review=True)(run)


FORMAT_CHECKS = (
    _format_check(judge.FIXED_LENGTH, "Fixed parts have exactly the lengths of §7.17", "§7.17"),
    _format_check(judge.REQUIRED, "Required fields are present (possibly empty)", "§7, §9.5"),
    _format_check(
        judge.FLAGS, "Flags follow their convention (0/1, Y/N, Y/N/U, Y/space); BX is 16 Y/N",
        "§4.2, §5.3, P11, P12",
    ),
    _format_check(judge.DATES, "Dates are 18 characters, YYYYMMDDZZZZHHMMSS", "§4.1"),
    _format_check(judge.NUMBERS, "Counts and numeric fixed fields are digits of full width",
                  "§4.3, P27"),
    _format_check(judge.DELIMITERS, "Every variable field ends with |, the last one too",
                  "§2.1, §9.5"),
    _format_check(judge.FIELD_SYNTAX, "Field identifiers are well formed and not repeated",
                  "§2.1, §6, P25"),
    _format_check(judge.VALUES, "Values fit in 255 bytes and are valid in the encoding",
                  "§2.3, §2.5, P26"),
    _format_check(judge.VALUE_FORMS, "Currency, amounts, media and fee types have their form "
                  "(BH 3 letters, BV/CC decimals, CK 3 digits, BT 2 digits)",
                  "§4.4, §5.6, §5.8, §6"),
    _format_check(judge.LEAKED, "No value is a program's internal representation "
                  "(ARRAY(0x...), <object at 0x...>)", "§6"),
)  # fmt: skip


def _each(
    s: CheckSession, exchanges: Iterable[Exchange], test: Callable[[Exchange], str | None]
) -> list[tuple[Exchange, str]]:
    found: list[tuple[Exchange, str]] = []
    for exchange in exchanges:
        problem = test(exchange)
        if problem is not None:
            found.append((exchange, problem))
    return found


@check("FD-09", "Variable fields are sent in the reference's order", "§2.1, P14", SHOULD,
       "Field formats", review=True)  # fmt: skip
async def field_order(s: CheckSession) -> None:
    exchanges = _responses(s)

    def test(ex: Exchange) -> str | None:
        problem = judge.order_problem(ex.response, s.encoding)
        return None if problem is None else f"{ex.response.message_id}: {problem}"

    _report(s, _each(s, exchanges, test), len(exchanges), "responses have fields out of order")


@check("FD-10", "18 and 20 carry no AO (institution id)", "§7.9, §7.10", SHOULD,
       "Field formats", review=True)  # fmt: skip
async def no_institution(s: CheckSession) -> None:
    exchanges = [e for e in _responses(s) if e.response.message_id in ("18", "20")]
    if not exchanges:
        raise CheckSkipped("no 18 or 20 was received")

    def test(ex: Exchange) -> str | None:
        codes = judge.variable_codes(ex.response, s.encoding)
        return f"{ex.response.message_id} carries AO" if "AO" in codes else None

    _report(s, _each(s, exchanges, test), len(exchanges), "18/20 responses carry AO")


@check("FR-01", "Responses end with the configured terminator (CR; no LF after it)",
       "§2.2, P1", MUST, "Framing and tolerance", review=True)  # fmt: skip
async def terminators(s: CheckSession) -> None:
    exchanges = _responses(s)
    crlf = s.profile.terminator == "CRLF"

    def test(ex: Exchange) -> str | None:
        frame = ex.response
        if frame.terminator == b"\n":
            return f"{frame.message_id} ends with a bare LF"
        if crlf:
            return None
        if frame.terminator != b"\r":
            return f"{frame.message_id} ends with CR LF"
        if b"\n" in frame.leading:
            return f"an LF preceded this {frame.message_id}: the previous response ended CR LF"
        return None

    _report(s, _each(s, exchanges, test), len(exchanges), "responses are terminated wrongly")


def _request_sequence(request: bytes | None) -> int | None:
    if request is None:
        return None
    _body, trailer = split_trailer(request)
    return None if trailer is None else trailer.sequence


@check("ED-01", "Responses echo the request's sequence number (AY)", "§3.4", MUST,
       "Error detection", review=True)  # fmt: skip
async def sequence_echoed(s: CheckSession) -> None:
    s.require_checksums()
    judged = [
        ex
        for ex in _responses(s)
        if ex.judge_trailer
        and _request_sequence(ex.request) is not None
        and ex.response.message_id != "96"
    ]
    if not judged:
        raise CheckSkipped("no request with a sequence number was answered")

    def test(ex: Exchange) -> str | None:
        wanted = _request_sequence(ex.request)
        _body, trailer = split_trailer(ex.response.body)
        if trailer is None:
            return f"{ex.response.message_id} has no AY/AZ trailer (request had AY{wanted})"
        if trailer.sequence != wanted:
            got = "no AY" if trailer.sequence is None else f"AY{trailer.sequence}"
            return f"{ex.response.message_id} has {got}, the request had AY{wanted}"
        return None

    _report(s, _each(s, judged, test), len(judged), "responses do not echo AY")


def _with_checksum(s: CheckSession) -> list[Exchange]:
    found = [ex for ex in _responses(s) if _AZ_TAIL.search(ex.response.body)]
    if not found:
        raise CheckSkipped("no response carried a checksum")
    return found


@check("ED-02", "Response checksums verify", "§3.1, §3.2, P2", MUST, "Error detection",
       review=True)  # fmt: skip
async def checksums_verify(s: CheckSession) -> None:
    s.require_checksums()
    exchanges = _with_checksum(s)

    def test(ex: Exchange) -> str | None:
        if verify_checksum(ex.response.body):
            return None
        return f"{ex.response.message_id}: checksum {ex.response.body[-4:]!r} does not verify"

    _report(s, _each(s, exchanges, test), len(exchanges), "checksums are wrong")


@check("ED-03", "Response checksums are exactly four upper-case hex digits", "§3.1, P3", MUST,
       "Error detection", review=True)  # fmt: skip
async def checksums_canonical(s: CheckSession) -> None:
    s.require_checksums()
    exchanges = _with_checksum(s)

    def test(ex: Exchange) -> str | None:
        match = _AZ_TAIL.search(ex.response.body)
        assert match is not None
        digits = match.group(1)
        if _CANONICAL_CHECKSUM.fullmatch(digits):
            return None
        return f"{ex.response.message_id}: checksum written {digits.decode('ascii')!r}"

    _report(s, _each(s, exchanges, test), len(exchanges), "checksums are not 4 upper-case digits")


CHECKS: tuple[Check, ...] = (
    terminators,
    sequence_echoed,
    checksums_verify,
    checksums_canonical,
    *FORMAT_CHECKS,
    field_order,
    no_institution,
)
