"""The vocabulary shared by both modes: checks, their outcomes, transcripts and the run report.

A check is data (id, title, reference section, severity, group) plus the coroutine that runs it;
it passes by returning, fails by raising :class:`CheckFailed` and skips by raising
:class:`CheckSkipped`. Keeping checks as plain values in tuples (no registry filled at import)
means the set of checks is visible in the code and a test can iterate over it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


class Severity(enum.StrEnum):
    """MUST: the protocol requires it. SHOULD: interoperability advice. INFO: recorded only."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    INFO = "INFO"


MUST = Severity.MUST
SHOULD = Severity.SHOULD
INFO = Severity.INFO


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


class CheckFailed(Exception):
    """The system under test broke the rule; the message says how, in one or a few lines."""


class CheckSkipped(Exception):
    """The check cannot run here (not announced in BX, not allowed, nothing in the profile)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """One rule of the suite and the coroutine that checks it."""

    id: str
    title: str
    section: str
    severity: Severity
    group: str
    run: Callable[[Any], Awaitable[None]] = dataclasses.field(repr=False, compare=False)
    # What the check needs from the run: "changes" (--allow-changes), "lockout"
    # (--allow-lockout). Checks that need something not granted are skipped with a reason.
    needs: tuple[str, ...] = ()
    # Review checks run after all others and judge every exchange the run recorded.
    review: bool = False


def check(
    id: str,
    title: str,
    section: str,
    severity: Severity,
    group: str,
    *,
    needs: Sequence[str] = (),
    review: bool = False,
) -> Callable[[Callable[[Any], Awaitable[None]]], Check]:
    """Decorator turning a check coroutine into a :class:`Check` value."""

    def wrap(fn: Callable[[Any], Awaitable[None]]) -> Check:
        return Check(id, title, section, severity, group, fn, tuple(needs), review)

    return wrap


@dataclasses.dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One thing that happened on the wire during a check.

    ``direction`` is ``"sent"``, ``"received"`` or ``"event"`` (a close, a timeout); ``data`` is
    the raw bytes (with their terminator) or the event text encoded as UTF-8; ``connection``
    numbers the check's connections from 1.
    """

    connection: int
    direction: str
    data: bytes
    at: float


@dataclasses.dataclass
class CheckResult:
    check: Check
    status: Status
    detail: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)
    transcript: list[TranscriptEntry] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def must_failed(self) -> bool:
        return self.status is Status.FAIL and self.check.severity is Severity.MUST


@dataclasses.dataclass
class Report:
    """A finished run: what was tested, with which profile, and every check's result."""

    mode: str
    target: str
    profile_name: str
    started: str
    results: list[CheckResult]
    seconds: float = 0.0
    secrets: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def passed(self) -> int:
        return self.count(Status.PASS)

    @property
    def failed(self) -> int:
        return self.count(Status.FAIL)

    @property
    def skipped(self) -> int:
        return self.count(Status.SKIP)

    @property
    def must_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.must_failed]

    @property
    def exit_code(self) -> int:
        """0 only when no MUST check failed (SHOULD and INFO failures are advice)."""
        return 1 if self.must_failures else 0

    def summary_line(self) -> str:
        return f"conformance: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"

    def result(self, check_id: str) -> CheckResult:
        for r in self.results:
            if r.check.id == check_id:
                return r
        raise KeyError(check_id)

    def ids(self, status: Status) -> set[str]:
        return {r.check.id for r in self.results if r.status is status}
