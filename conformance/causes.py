"""Root causes: one defect that leaves many checks' requests unanswered is counted once.

Why: a server that closes the connection on every 09 for an unknown item fails MS-09, BX-01 and
RF-06, and one that closes on the on-line (blank) nb due date fails every check that sends an
11 or a 29. Reporting each as a MUST failure of its own buries the one thing to fix under many.

How, after all checks have run, from what each check recorded (:attr:`CheckResult.unanswered`,
the requests the server closed on or never answered):

- a *root* is a failed check that names what the unanswered requests had in common: first the
  checks that isolate one feature of a request (:attr:`Check.isolates`: FR-11's blank return
  date, FR-12's blank nb due date), then the per-message checks MS-xx (any request of id xx);
- a failed check whose failure was for want of an answer, and every one of whose unanswered
  requests has the feature of a root of higher rank, is marked DEPENDENT on those roots (the
  report shows it, with the root cause, and counts the defect once). A failure with any other
  reason (a wrong field, a wrong answer) stays a failure of its own.

A check that finds its own control request unanswered raises
:class:`~conformance.model.CheckDependent` naming its root; that is resolved here too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from conformance.model import CheckResult, Status
from sip2d.protocol.trailer import split_trailer

Feature = Callable[[bytes], bool]


def body(frame: bytes) -> bytes:
    """A recorded request without its error-detection trailer."""
    return split_trailer(frame)[0]


def message_is(message_id: str) -> Feature:
    wanted = message_id.encode("ascii")
    return lambda request: request[:2] == wanted


@dataclasses.dataclass(frozen=True)
class _Root:
    result: CheckResult
    feature: Feature
    rank: int  # 0: isolates one feature; 1: one message id


def _candidate(result: CheckResult) -> _Root | None:
    if result.status is not Status.FAIL or not result.transport_failure:
        return None
    frames = [body(u) for u in result.unanswered if u is not None]
    if result.check.isolates is not None:
        feature, rank = result.check.isolates, 0
    elif result.check.id.startswith("MS-"):
        feature, rank = message_is(result.check.id[3:]), 1
    else:
        return None
    if not any(feature(frame) for frame in frames):
        return None
    return _Root(result, feature, rank)


def _explained_by(result: CheckResult, roots: list[_Root], below: int) -> tuple[str, ...] | None:
    """The roots (of rank < ``below``) explaining every unanswered request, else None."""
    if not result.transport_failure or not result.unanswered or None in result.unanswered:
        return None
    chosen: list[str] = []
    for frame in result.unanswered:
        assert frame is not None
        request = body(frame)
        match = next(
            (
                root
                for root in sorted(roots, key=lambda r: r.rank)
                if root.rank < below and root.result is not result and root.feature(request)
            ),
            None,
        )
        if match is None:
            return None
        if match.result.check.id not in chosen:
            chosen.append(match.result.check.id)
    return tuple(chosen)


def _mark(result: CheckResult, roots: tuple[str, ...]) -> None:
    result.status = Status.DEPENDENT
    result.roots = roots
    names = ", ".join(roots)
    result.detail = f"same root cause as {names}: {result.detail}"


def resolve(results: list[CheckResult]) -> None:
    """Mark DEPENDENT results in place (see the module docstring)."""
    by_id = {r.check.id: r for r in results}
    # Declared dependencies (a control request unanswered): only real if the root failed.
    for r in results:
        if r.status is Status.DEPENDENT and not r.detail.startswith("same root cause"):
            named = by_id.get(r.roots[0]) if r.roots else None
            if named is not None and named.status is Status.FAIL:
                r.detail = f"same root cause as {named.check.id}: {r.detail}"
            else:
                r.status, r.roots = Status.SKIP, ()
                r.detail = f"cannot be judged: {r.detail}"
    candidates = [root for r in results if (root := _candidate(r)) is not None]
    final = [root for root in candidates if root.rank == 0]
    for root in candidates:
        if root.rank == 0:
            continue
        explained = _explained_by(root.result, final, below=root.rank)
        if explained is not None:
            _mark(root.result, explained)
        else:
            final.append(root)
    finals = {id(root.result) for root in final}
    for r in results:
        if r.status is not Status.FAIL or id(r) in finals:
            continue
        explained = _explained_by(r, final, below=2)
        if explained is not None:
            _mark(r, explained)
