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
    """PASS and FAIL judge the rule. SKIP: the rule does not apply here (not announced, not
    allowed, nothing in the profile). DEPENDENT: the check failed only because of a defect
    another failed check names (its root cause), so the defect is counted once. NOT_RUN: the
    check could not be run because the server stopped answering earlier in the run."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    DEPENDENT = "dependent"
    NOT_RUN = "not-run"


class CheckFailed(Exception):
    """The system under test broke the rule; the message says how, in one or a few lines."""


class CheckSkipped(Exception):
    """The check cannot run here (not announced in BX, not allowed, nothing in the profile)."""


class CheckDependent(Exception):
    """The rule cannot be judged because of a defect another check names (``root``).

    A check raises it when its control request (the same request without the feature it
    tests) is not answered either: the defect is the root check's, not this rule's. The runner
    turns it into DEPENDENT when the root check failed, and into SKIP otherwise.
    """

    def __init__(self, root: str, detail: str) -> None:
        super().__init__(detail)
        self.root = root


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
    # For a check that isolates one feature of a request (a blank nb due date, say): whether a
    # request body has that feature. When the check fails because the server did not answer
    # such a request, any other check that failed only for want of an answer to requests with
    # the feature is marked DEPENDENT on it (one root cause, counted once).
    isolates: Callable[[bytes], bool] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )


def check(
    id: str,
    title: str,
    section: str,
    severity: Severity,
    group: str,
    *,
    needs: Sequence[str] = (),
    review: bool = False,
    isolates: Callable[[bytes], bool] | None = None,
) -> Callable[[Callable[[Any], Awaitable[None]]], Check]:
    """Decorator turning a check coroutine into a :class:`Check` value."""

    def wrap(fn: Callable[[Any], Awaitable[None]]) -> Check:
        return Check(id, title, section, severity, group, fn, tuple(needs), review, isolates)

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
    # DEPENDENT results: the ids of the failed checks that name the root cause.
    roots: tuple[str, ...] = ()
    # Whether the check failed for want of an answer (close, silence, no connection), and the
    # requests that went unanswered (raw frames; None when no connection could be opened).
    unanswered: tuple[bytes | None, ...] = ()
    transport_failure: bool = False
    # How many connections the check opened (0 with requests unanswered: none could be).
    connected: int = 0

    @property
    def must_failed(self) -> bool:
        return self.status is Status.FAIL and self.check.severity is Severity.MUST


@dataclasses.dataclass(frozen=True, slots=True)
class Stopped:
    """Where the server stopped answering: during ``check_id``, or before it when ``before``
    (its first connection already failed, so the previous check was the last one answered)."""

    check_id: str
    before: bool = False
    after: str = ""

    def __str__(self) -> str:
        if self.before:
            last = f" (after {self.after})" if self.after else ""
            return f"the server stopped answering before check {self.check_id}{last}"
        return f"the server stopped answering at check {self.check_id}"


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
    # Set when the server stopped answering: the check during (or before) which it stopped.
    stopped: Stopped | None = None

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
    def dependent(self) -> int:
        return self.count(Status.DEPENDENT)

    @property
    def not_run(self) -> int:
        return self.count(Status.NOT_RUN)

    @property
    def must_failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.must_failed]

    @property
    def must_not_judged(self) -> list[CheckResult]:
        """MUST checks that did not run to a verdict (skipped or not run)."""
        return [
            r
            for r in self.results
            if r.check.severity is Severity.MUST and r.status in (Status.SKIP, Status.NOT_RUN)
        ]

    def root_causes(self) -> dict[str, list[str]]:
        """Each root check id and the checks marked DEPENDENT on it, in report order."""
        found: dict[str, list[str]] = {}
        for r in self.results:
            for root in r.roots:
                found.setdefault(root, []).append(r.check.id)
        return found

    @property
    def exit_code(self) -> int:
        """0 only when no MUST check failed and the server kept answering.

        SHOULD and INFO failures are advice. A MUST check that is DEPENDENT on a root cause
        counts through its root; should every root it has be less than a MUST, it counts
        itself, so a defect is never made lighter by being found first by a SHOULD.
        """
        if self.must_failures or self.stopped is not None:
            return 1
        severity = {r.check.id: r.check.severity for r in self.results}
        for r in self.results:
            if (
                r.status is Status.DEPENDENT
                and r.check.severity is Severity.MUST
                and all(severity.get(root) is not Severity.MUST for root in r.roots)
            ):
                return 1
        return 0

    def summary_line(self) -> str:
        """``conformance: N passed, N failed, N skipped`` (what CI log scrapers read), then the
        dependent and not-run counts when there are any."""
        line = f"conformance: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"
        if self.dependent:
            line += f", {self.dependent} dependent"
        if self.not_run:
            line += f", {self.not_run} not run"
        return line

    def result(self, check_id: str) -> CheckResult:
        for r in self.results:
            if r.check.id == check_id:
                return r
        raise KeyError(check_id)

    def ids(self, status: Status) -> set[str]:
        return {r.check.id for r in self.results if r.status is status}
