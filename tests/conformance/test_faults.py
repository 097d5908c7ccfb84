"""Faults injected between the suite and a real sip2d: the right checks fail, and only those.

Each group runs the whole suite once through a :class:`FaultProxy` carrying several faults that
touch different rules; the failed checks must be exactly the union of what the faults were
meant to break. Faults that need sip2d itself misconfigured (no frame limit, no PIN lockout) or
a wrong profile are separate tests. ``test_every_check_can_fail`` proves the catalogue leaves
no server check without a test in which it must fail.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import trio

from conformance.checks import SERVER_CHECKS
from conformance.mask import Masker
from conformance.model import Status
from conformance.profile import Login, Secret
from conformance.report import render_text
from tests.conformance.conftest import (
    PROFILE,
    SECRETS,
    explain,
    failed,
    run_suite,
    sip2d_config,
    start_sip2d,
)
from tests.conformance.faults import GROUPS, dies_on_split_frames, lost_guesses
from tests.conformance.proxy import Fault, FaultProxy

# Short enough that the faults that leave requests unanswered cost little, long enough that a
# loaded machine (CI shares its cores) answers every request in time.
FAST = dataclasses.replace(PROFILE, timeout=1.5)
# Failures proven outside the proxy groups, by the tests below.
CONFIG_FAULTS = {"FR-06", "LK-01", "LK-02", "SE-01"}
# Groups whose faults leave requests unanswered that other checks send too: those checks are
# DEPENDENT on the root, never failures of their own. Check id -> its roots.
DEPENDENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "roots": {
        # 11 and 29 with the on-line (blank) nb due date: FR-12 names it.
        "MS-11": ("FR-12",),
        "MS-29": ("FR-12",),
        "RF-05": ("FR-12",),
        "RF-07": ("FR-12",),
        "ED-05": ("FR-12",),
        "ED-13": ("FR-12",),
        "CX-01": ("FR-12",),
        "CX-02": ("FR-12",),
        "CX-03": ("FR-12",),
        "CX-04": ("FR-12",),
        "CX-05": ("FR-12",),
        "CX-06": ("FR-12",),
        "PN-04": ("FR-12",),
        "PN-05": ("FR-12",),
        "PN-06": ("FR-12",),
        # 09 for the unknown item: MS-09 names it (FR-11 checks in a known item).
        "RF-06": ("MS-09",),
        "BX-01": ("FR-12", "MS-09"),
    },
}


def test_every_check_can_fail() -> None:
    covered = set(CONFIG_FAULTS)
    for faults in GROUPS.values():
        for _fault, expected in faults:
            covered |= expected
    assert {c.id for c in SERVER_CHECKS} - covered == set()


@pytest.mark.parametrize("group", sorted(GROUPS))
async def test_fault_group(
    group: str, nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    faults = GROUPS[group]
    proxy = FaultProxy((running.host, running.port), [fault for fault, _expected in faults])
    nursery.start_soon(proxy.run)
    await trio.sleep(0)
    while not proxy.port:
        await trio.sleep(0.01)
    report = await run_suite(proxy.port, FAST, allow_changes=True)
    expected = set().union(*(expected for _fault, expected in faults))
    assert failed(report) == expected, explain(report)
    dependent = {r.check.id: r.roots for r in report.results if r.status is Status.DEPENDENT}
    if group in DEPENDENTS:
        assert dependent == DEPENDENTS[group], explain(report)
        # Counted once: the report's exit status comes from the roots alone.
        causes = {root: set(ids) for root, ids in report.root_causes().items()}
        assert causes == {
            root: {c for c, roots in DEPENDENTS[group].items() if root in roots}
            for root in ("FR-12", "MS-09")
        }
    assert report.stopped is None
    running.daemon.stop()


async def test_no_frame_limit_and_no_lockout(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    config = sip2d_config(tmp_path, sqlite_url, max_frame_bytes=4 << 20, throttle_max_failures=1000)
    running = await start_sip2d(nursery, config)
    report = await run_suite(running.port, FAST, allow_changes=True, allow_lockout=True)
    assert failed(report) == {"FR-06", "LK-01", "LK-02"}, explain(report)
    assert report.exit_code == 0  # all SHOULDs
    running.daemon.stop()


async def test_simultaneous_guesses_that_are_not_all_counted_fail_lk02(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    proxy = FaultProxy((running.host, running.port), [lost_guesses()])
    nursery.start_soon(proxy.run)
    while not proxy.port:
        await trio.sleep(0.01)
    report = await run_suite(proxy.port, FAST, allow_lockout=True, only=("LK-01", "LK-02"))
    assert failed(report) == {"LK-02"}, explain(report)
    assert "after 5 simultaneous wrong PINs the right PIN is still confirmed" in (
        report.result("LK-02").detail
    )
    # Without the fault, the same run passes: sip2d charges every guess before verifying it.
    direct = await run_suite(running.port, FAST, allow_lockout=True, only=("LK-02",))
    assert direct.result("LK-02").status is Status.PASS, explain(direct)
    running.daemon.stop()


async def test_a_server_that_dies_mid_run_stops_the_run_with_one_failure(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    proxy = FaultProxy((running.host, running.port), [dies_on_split_frames()])
    nursery.start_soon(proxy.run)
    while not proxy.port:
        await trio.sleep(0.01)
    report = await run_suite(proxy.port, FAST, allow_changes=True)
    assert failed(report) == {"FR-04"}, explain(report)
    assert report.stopped is not None and report.stopped.check_id == "FR-04"
    assert "the server stopped answering at check FR-04" in report.result("FR-04").detail
    ids = [r.check.id for r in report.results]
    after = report.results[ids.index("FR-04") + 1 :]
    assert all(r.status is Status.NOT_RUN for r in after if not r.check.review)
    assert report.not_run == sum(1 for r in after if not r.check.review) > 30
    assert report.exit_code == 1
    text = render_text(report, Masker(SECRETS))
    assert f"the server stopped answering at check FR-04: {report.not_run} checks not run" in text
    running.daemon.stop()


async def test_wrong_kiosk_password_fails_login_and_skips_the_rest(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    assert PROFILE.login is not None
    wrong = dataclasses.replace(PROFILE, login=Login(PROFILE.login.user, Secret("nope"), ""))
    report = await run_suite(running.port, wrong)
    assert failed(report) == {"SE-01"}
    assert report.exit_code == 1
    others = [r for r in report.results if r.check.id != "SE-01"]
    assert others and all(r.status is Status.SKIP for r in others)
    assert "fix [login]" in others[0].detail
    running.daemon.stop()


async def test_a_silent_server_fails_the_gate_check_and_skips_the_rest(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    silent = Fault("answers nothing", request=lambda state, frame: ("drop", b""))
    proxy = FaultProxy((running.host, running.port), [silent])
    nursery.start_soon(proxy.run)
    while not proxy.port:
        await trio.sleep(0.01)
    report = await run_suite(proxy.port, FAST)
    assert failed(report) == {"SE-01"}
    assert f"no response within {FAST.timeout:g} s" in report.result("SE-01").detail
    skipped = [r for r in report.results if r.check.id != "SE-01"]
    assert all(r.status is Status.SKIP for r in skipped)
    assert skipped[0].detail.startswith("the server did not answer the preflight 93 Login")
    # Without a [login], the 99 is what shows the silence.
    no_login = await run_suite(proxy.port, dataclasses.replace(FAST, login=None))
    assert failed(no_login) == {"MS-99"}
    assert no_login.result("SE-01").status is Status.SKIP
    running.daemon.stop()
