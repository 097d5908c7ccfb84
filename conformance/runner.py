"""Running the server suite: preflight, every check in isolation, then the review checks.

The preflight logs in once and sends one 99 to learn the 98's BX, which decides which message
checks apply. If the kiosk login is refused, or the server answers neither 93 nor 99, nothing
else can be judged: SE-01 (MS-99 for a server used without 93) runs and fails, and every other
check is skipped with that reason (the report says to fix ``[login]``). If the server
cannot be reached at all there is nothing to report: :class:`Unreachable` is raised and the CLI
prints one line.

Each check runs with its own recorder and connections, inside a cancel scope bounded by a
multiple of the profile's timeout, and any exception it raises becomes its result: a bug in one
check (or a server that trips one) cannot stop the run.

A server that dies mid-run must not turn into dozens of "cannot connect" failures: whenever a
check leaves a request unanswered (or cannot connect), the runner asks whether the server still
answers a login and a 99. If it does not, the report says at which check it stopped, the
remaining checks are NOT_RUN, and only the review checks (which judge what was recorded) run.
Last, :func:`conformance.causes.resolve` marks the checks that failed only because of a defect
another check names as DEPENDENT on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

import trio

from conformance import causes, requests
from conformance.checks import SERVER_CHECKS
from conformance.checks.context import CheckSession, RunState
from conformance.judge import read
from conformance.model import (
    Check,
    CheckDependent,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    Report,
    Status,
    Stopped,
)
from conformance.profile import Profile
from conformance.wire import Recorder, Target, WireError, connect
from sip2d.protocol import ACSStatus, LoginResponse

# A check may open several connections and wait several times; this bounds the whole check.
CHECK_BUDGET_TIMEOUTS = 30
# The question "does the server still answer?" waits at least this long for each answer: a
# slow answer under load must not be taken for a dead server (a dead one refuses or closes
# at once).
LIVENESS_TIMEOUT = 5.0


class Unreachable(Exception):
    """Nothing answers at the target address."""


async def preflight(run: RunState) -> str | None:
    """Log in and read the BX; returns why the run cannot go on (login refused), or None."""
    profile = run.profile
    recorder = Recorder("preflight")
    try:
        wire = await connect(
            run.target,
            recorder,
            encoding=profile.encoding,
            timeout=profile.timeout,
            checksums=run.checksums,
        )
    except WireError as exc:
        raise Unreachable(str(exc)) from None
    first = "93 Login" if profile.login is not None else "99 SC Status"
    try:
        if profile.login is not None:
            frame = await wire.request(requests.login(profile))
            received = read(frame, profile.encoding)
            if received is None or not isinstance(received.message, LoginResponse):
                return f"the 93 Login got {frame.message_id!r}, not a 94"
            if not received.message.ok:
                return "the profile's kiosk login was refused (940): fix [login] in the profile"
            first = "99 SC Status"
        frame = await wire.request(requests.sc_status())
        received = read(frame, profile.encoding)
        if received is not None and isinstance(received.message, ACSStatus):
            run.supported = received.message.supported_messages
    except WireError as exc:
        # Nothing can be judged on a server that answers neither 93 nor 99; waiting for every
        # check to time out one by one would only make the operator wait.
        return f"the server did not answer the preflight {first}: {exc}"
    finally:
        run.exchanges.extend(recorder.exchanges)
        await wire.aclose()
    return None


async def run_check(item: Check, run: RunState) -> CheckResult:
    recorder = Recorder(item.id)
    session = CheckSession(run, recorder)
    started = time.perf_counter()
    status, detail = Status.PASS, ""
    roots: tuple[str, ...] = ()
    transport = False
    missing = [need for need in item.needs if not _granted(need, run)]
    if missing:
        status, detail = Status.SKIP, _needs_text(missing[0])
    else:
        budget = run.profile.timeout * CHECK_BUDGET_TIMEOUTS
        try:
            with trio.fail_after(budget):
                await item.run(session)
        except CheckSkipped as exc:
            status, detail = Status.SKIP, str(exc)
        except CheckDependent as exc:
            status, detail, roots = Status.DEPENDENT, str(exc), (exc.root,)
        except WireError as exc:
            status, detail, transport = Status.FAIL, str(exc), True
        except CheckFailed as exc:
            status, detail = Status.FAIL, str(exc)
        except trio.TooSlowError:
            status, detail = Status.FAIL, f"the check did not finish within {budget:g} s"
        except Exception as exc:  # a suite bug must cost one check, not the run
            status, detail = Status.FAIL, f"suite error: {type(exc).__name__}: {exc}"
        finally:
            with trio.CancelScope(shield=True):
                await session.close()
    if not item.review:
        run.exchanges.extend(recorder.exchanges)
    result = CheckResult(
        item, status, detail, session.notes, recorder.transcript, time.perf_counter() - started
    )
    result.roots = roots
    result.unanswered = tuple(recorder.unanswered)
    result.transport_failure = transport
    result.connected = recorder.connected
    return result


async def answering(run: RunState) -> bool:
    """Whether the server still accepts a connection and answers a login (if any) and a 99."""
    profile = run.profile
    recorder = Recorder("liveness")
    try:
        wire = await connect(
            run.target,
            recorder,
            encoding=profile.encoding,
            timeout=max(profile.timeout, LIVENESS_TIMEOUT),
            checksums=run.checksums,
        )
    except WireError:
        return False
    try:
        if profile.login is not None:
            await wire.request(requests.login(profile))
        await wire.request(requests.sc_status())
    except WireError:
        return False
    finally:
        await wire.aclose()
    return True


def _granted(need: str, run: RunState) -> bool:
    if need == "changes":
        return run.allow_changes
    if need == "lockout":
        return run.allow_lockout
    return True


def _needs_text(need: str) -> str:
    if need == "changes":
        return "changes data: run with --allow-changes (or [changes] allow = true)"
    if need == "lockout":
        return "locks a patron: run with --allow-lockout"
    return f"needs {need}"


async def run_server_suite(
    profile: Profile,
    target: Target,
    *,
    allow_changes: bool = False,
    allow_lockout: bool = False,
    only: Iterable[str] = (),
    checks: tuple[Check, ...] = SERVER_CHECKS,
) -> Report:
    """Run the server checks against ``target``; ``only`` limits them to some ids."""
    run = RunState(
        profile,
        target,
        allow_changes=allow_changes or profile.allow_changes,
        allow_lockout=allow_lockout,
    )
    selected = set(only)
    started = time.perf_counter()
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    refused = await preflight(run)
    # The check that shows why the run stopped: the login, or the status for servers without.
    gate = "SE-01" if profile.login is not None else "MS-99"
    results: dict[str, CheckResult] = {}
    stopped: Stopped | None = None
    previous = ""
    for phase_review in (False, True):
        for item in checks:
            wanted = not selected or item.id in selected or (refused and item.id == gate)
            if item.review != phase_review or not wanted:
                continue
            if refused is not None and item.id != gate:
                results[item.id] = CheckResult(item, Status.SKIP, refused)
                continue
            if stopped is not None and not item.review:
                results[item.id] = CheckResult(item, Status.NOT_RUN, f"not run: {stopped}")
                continue
            result = await run_check(item, run)
            results[item.id] = result
            troubled = result.status is not Status.PASS and result.unanswered
            if not item.review and troubled and not await answering(run):
                before = result.connected == 0
                stopped = Stopped(item.id, before=before, after=previous if before else "")
                result.detail += f" ({stopped})"
            previous = item.id
    ordered = [results[c.id] for c in checks if c.id in results]
    causes.resolve(ordered)
    return Report(
        mode="server",
        target=str(target),
        profile_name=profile.name,
        started=stamp,
        results=ordered,
        seconds=time.perf_counter() - started,
        secrets=profile.secrets(),
        stopped=stopped,
    )
