"""Guessing limits on real SQLite files and the real PostgreSQL, with time passed in.

Every attempt is charged before it is verified (issue #14), so these tests drive the charges
(:func:`throttle.reserve_pin_attempt`, :func:`throttle.charge_patron`,
:func:`throttle.reserve_login_attempt`) and their refunds directly, one transaction each as the
gate makes them, and check both what they answer and what they leave in the database: a refused
attempt must write nothing, a refund must remove exactly its own charge.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from sip2d.auth import throttle
from sip2d.config import ThrottleConfig
from sip2d.storage.models import auth_failures
from sip2d.storage.runner import DatabaseRunner
from tests.auth import throttle_worker
from tests.auth.conftest import NOW, add_patron, patron_row

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
LIMITS = ThrottleConfig(
    max_failures=5,
    lockout_minutes=15,
    spray_window_minutes=10,
    spray_slowdown_after=3,
    spray_slowdown_seconds=2.0,
    spray_block_after=5,
    spray_block_minutes=30,
    login_failures_per_address=3,
    login_block_minutes=15,
)
ACCOUNT, ADDRESS = "kiosk1", "10.0.0.5"


def write(engine: Engine, fn: Callable[[Connection], T]) -> T:
    return DatabaseRunner(engine).write_sync(fn)


def charge(engine: Engine, patron_id: int, now: datetime) -> throttle.PatronCharge | None:
    return write(engine, lambda c: throttle.charge_patron(c, patron_id, LIMITS, now))


def reserve(
    engine: Engine,
    barcode: str,
    now: datetime,
    *,
    patron_id: int | None = None,
    account: str = ACCOUNT,
    address: str = ADDRESS,
) -> throttle.PinReservation:
    return write(
        engine,
        lambda c: throttle.reserve_pin_attempt(
            c,
            LIMITS,
            patron_id=patron_id,
            barcode=barcode,
            account=account,
            address=address,
            now=now,
        ),
    )


def state(
    engine: Engine, now: datetime, *, account: str = ACCOUNT, address: str = ADDRESS
) -> throttle.SourceState:
    return write(
        engine,
        lambda c: throttle.source_state(c, LIMITS, account=account, address=address, now=now),
    )


def failure_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(auth_failures)).scalar_one())


# --- per patron ---------------------------------------------------------------------------


def test_lockout_after_consecutive_charges(engine: Engine) -> None:
    pid = add_patron(engine, "P100", "x")
    for n in range(1, 5):
        result = charge(engine, pid, NOW + timedelta(seconds=n))
        assert result == throttle.PatronCharge(True, "x", n, None, newly_locked=False)
        assert result.record == "x", "the charge hands back the record it counted against"
    fifth = charge(engine, pid, NOW + timedelta(seconds=5))
    until = NOW + timedelta(seconds=5, minutes=15)
    assert fifth == throttle.PatronCharge(True, "x", 5, until, newly_locked=True)
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (5, until)
    assert throttle.is_locked(row.pin_locked_until, until - timedelta(seconds=1))
    assert not throttle.is_locked(row.pin_locked_until, until)

    # After the lock ends the count stands: one more attempt locks again at once.
    later = until + timedelta(minutes=1)
    again = charge(engine, pid, later)
    assert again is not None and again.charged and again.newly_locked
    assert again.failures == 6
    assert again.locked_until == later + timedelta(minutes=15)


def test_locked_patron_is_refused_and_not_charged(engine: Engine) -> None:
    until = NOW + timedelta(minutes=15)
    pid = add_patron(engine, "P103", "x", pin_failures=5, pin_locked_until=until)
    refused = charge(engine, pid, until - timedelta(seconds=1))
    assert refused == throttle.PatronCharge(False, None, 5, until)
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (5, until)

    # Through the reservation: refused as a whole, so the source is not charged either.
    reservation = reserve(engine, "P103", until - timedelta(seconds=1), patron_id=pid)
    assert reservation.refused and reservation.source_blocked_until is None
    assert reservation.patron == refused and reservation.rows == ()
    assert failure_rows(engine) == 0
    assert patron_row(engine, pid).pin_failures == 5

    # The lock ends at ``until`` exactly, and the first attempt then is charged.
    assert charge(engine, pid, until) == throttle.PatronCharge(
        True, "x", 6, until + timedelta(minutes=15), newly_locked=True
    )


def test_patron_without_pin_is_not_charged_but_its_source_is(engine: Engine) -> None:
    """No PIN to guess, so nothing to lock; the attempt still looks like a failure to the
    source, or a spray could tell PIN-less cards apart by their being free."""
    pid = add_patron(engine, "P104", None)
    assert charge(engine, pid, NOW) == throttle.PatronCharge(False, None, 0, None, no_pin=True)
    reservation = reserve(engine, "P104", NOW, patron_id=pid)
    assert not reservation.refused
    assert reservation.patron is not None and reservation.patron.no_pin
    assert len(reservation.rows) == 2 and failure_rows(engine) == 2
    assert patron_row(engine, pid).pin_failures == 0


def test_missing_patron_is_charged_to_the_source_only(engine: Engine) -> None:
    assert charge(engine, 424242, NOW) is None
    reservation = reserve(engine, "GONE", NOW, patron_id=424242)
    assert reservation.patron is None and not reservation.refused
    assert failure_rows(engine) == 2


def test_refund_resets_and_stores_upgrade_only_over_the_same_hash(engine: Engine) -> None:
    pid = add_patron(engine, "P101", "old-record", pin_failures=3, pin_locked_until=NOW)
    write(
        engine,
        lambda c: throttle.refund_patron_charge(
            c, pid, charged=3, max_failures=5, upgraded="new-record", old_hash="stale"
        ),
    )
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until, row.pin_hash) == (0, None, "old-record")
    write(
        engine,
        lambda c: throttle.refund_patron_charge(
            c, pid, charged=0, max_failures=5, upgraded="new-record", old_hash="old-record"
        ),
    )
    assert patron_row(engine, pid).pin_hash == "new-record"


def test_refund_removes_exactly_its_own_charge(engine: Engine) -> None:
    pid = add_patron(engine, "P105", "x", pin_failures=2)
    other = reserve(engine, "C-OTHER", NOW)
    mine = reserve(engine, "P105", NOW, patron_id=pid)
    assert mine.patron is not None and mine.patron.failures == 3
    assert failure_rows(engine) == 4
    write(engine, lambda c: throttle.refund_pin_attempt(c, LIMITS, mine, pid))
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (0, None)
    with engine.connect() as conn:
        left = set(conn.execute(select(auth_failures.c.id)).scalars())
    assert left == set(other.rows)


def test_staff_unlock(engine: Engine) -> None:
    pid = add_patron(engine, "P102", "x", pin_failures=7, pin_locked_until=NOW)
    assert write(engine, lambda c: throttle.unlock_patron(c, "P102"))
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (0, None)
    assert not write(engine, lambda c: throttle.unlock_patron(c, "NOPE"))


# --- per source ---------------------------------------------------------------------------


def test_spray_slows_then_blocks_then_expires(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    t = [NOW + timedelta(seconds=10 * i) for i in range(6)]
    first = reserve(engine, "C0", t[0])
    assert len(first.rows) == 2, "one row for the account, one for the address"
    assert state(engine, t[0]).failures == 1
    # The same card again is not a spray: distinct cards count.
    reserve(engine, "C0", t[1])
    assert state(engine, t[1]).failures == 1
    reserve(engine, "C1", t[1])
    assert state(engine, t[1]) == throttle.SourceState(None, 0.0, 2)
    third = reserve(engine, "C2", t[2])
    assert third.newly_slowed and not third.newly_blocked
    assert third.delay == 0.0, "the slowdown applies from the next attempt on"
    assert state(engine, t[2]) == throttle.SourceState(None, 2.0, 3)
    fourth = reserve(engine, "C3", t[3])
    assert not fourth.newly_slowed and fourth.delay == 2.0
    fifth = reserve(engine, "C4", t[4])
    assert fifth.newly_blocked and not fifth.refused
    assert len(fifth.rows) == 4, "the block markers belong to the attempt that set them"

    # Blocked: refused before anything is charged, patron included.
    pid = add_patron(engine, "C5", "x")
    rows = failure_rows(engine)
    sixth = reserve(engine, "C5", t[5], patron_id=pid)
    assert sixth.refused and sixth.source_blocked_until == t[4] + timedelta(minutes=30)
    assert (sixth.patron, sixth.rows, sixth.newly_blocked) == (None, (), False)
    assert failure_rows(engine) == rows
    assert patron_row(engine, pid).pin_failures == 0

    blocked = state(engine, t[5] + timedelta(minutes=29))
    assert blocked.blocked_until == t[4] + timedelta(minutes=30)
    # Either key alone carries the block: the account from another address, the address
    # under another account.
    assert state(engine, t[5], address="10.0.0.99").blocked_until is not None
    assert state(engine, t[5], account="kiosk2").blocked_until is not None
    assert state(engine, t[5], account="kiosk2", address="10.0.0.99").blocked_until is None
    assert reserve(engine, "C6", t[5], address="10.0.0.99").refused
    assert reserve(engine, "C6", t[5], account="kiosk2").refused
    assert not reserve(engine, "C6", t[5], account="kiosk2", address="10.0.0.99").refused

    after = state(engine, t[4] + timedelta(minutes=30))
    assert after == throttle.SourceState(None, 0.0, 0), "block over, failures out of window"
    assert not reserve(engine, "C7", t[4] + timedelta(minutes=30)).refused
    assert "slowing answers" in caplog.text and "refusing PIN checks" in caplog.text


def test_refunding_the_blocking_attempt_lifts_the_block(engine: Engine) -> None:
    """The fifth card set the block as if it had failed; when it turns out right, four failed
    cards remain, below the limit, so the source is open again."""
    for i in range(4):
        reserve(engine, f"C{i}", NOW)
    pid = add_patron(engine, "RIGHT", "x")
    right = reserve(engine, "RIGHT", NOW, patron_id=pid)
    assert right.newly_blocked
    assert state(engine, NOW).blocked_until is not None
    write(engine, lambda c: throttle.refund_pin_attempt(c, LIMITS, right, pid))
    assert state(engine, NOW) == throttle.SourceState(None, 2.0, 4)
    assert not reserve(engine, "C9", NOW).refused


def test_spray_window_slides(engine: Engine) -> None:
    reserve(engine, "C0", NOW)
    reserve(engine, "C1", NOW + timedelta(minutes=5))
    reserve(engine, "C2", NOW + timedelta(minutes=10, seconds=1))  # C0 has left the window
    assert state(engine, NOW + timedelta(minutes=10, seconds=1)).failures == 2


def test_source_without_account(engine: Engine) -> None:
    for i in range(3):
        assert len(reserve(engine, f"C{i}", NOW, account="").rows) == 1
    assert state(engine, NOW, account="").delay == 2.0
    assert state(engine, NOW, account="kiosk1", address="10.0.0.6").delay == 0.0


# --- per address for 93 Login ---------------------------------------------------------------


def login_attempt(
    engine: Engine, at: datetime, address: str = "10.1.1.1", tag: str = ""
) -> throttle.LoginReservation:
    return write(
        engine,
        lambda c: throttle.reserve_login_attempt(c, LIMITS, address=address, now=at, login_tag=tag),
    )


def login_fails(engine: Engine, reservation: throttle.LoginReservation) -> bool:
    return write(engine, lambda c: throttle.settle_login_failure(c, LIMITS, reservation))


def test_login_failures_block_an_address(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    def blocked(at: datetime, address: str = "10.1.1.1") -> datetime | None:
        return write(
            engine,
            lambda c: throttle.login_blocked_until(c, LIMITS, address=address, now=at),
        )

    first = login_attempt(engine, NOW)
    assert len(first.rows) == 1 and (first.blocked_until, first.busy) == (None, False)
    assert not login_fails(engine, first)
    assert not login_fails(engine, login_attempt(engine, NOW + timedelta(minutes=1)))
    third = login_attempt(engine, NOW + timedelta(minutes=2))
    assert len(third.rows) == 1 and login_fails(engine, third)
    until = NOW + timedelta(minutes=15)
    assert blocked(NOW + timedelta(minutes=14)) == until
    assert blocked(NOW + timedelta(minutes=14), address="10.1.1.2") is None
    assert blocked(until) is None

    # Refused while blocked, without a row: trying on does not prolong the block.
    rows = failure_rows(engine)
    refused = login_attempt(engine, NOW + timedelta(minutes=14))
    assert refused == throttle.LoginReservation(blocked_until=until)
    assert failure_rows(engine) == rows
    assert login_attempt(engine, until).blocked_until is None
    assert "refusing logins" in caplog.text


def test_login_attempts_in_flight_make_others_wait_not_fail(engine: Engine) -> None:
    """Attempts still being verified are not failures: one that only they would take over the
    limit is told to wait (busy), and goes ahead once they are refunded."""
    in_flight = [
        login_attempt(engine, NOW, "10.1.2.1") for _ in range(LIMITS.login_failures_per_address)
    ]
    assert all(r.rows for r in in_flight)
    waiting = login_attempt(engine, NOW, "10.1.2.1")
    assert waiting.busy and not waiting.rows and waiting.blocked_until is None
    for right in in_flight:
        write(engine, lambda c, r=right: throttle.refund_login_attempt(c, r))
    assert failure_rows(engine) == 0
    assert login_attempt(engine, NOW, "10.1.2.1").rows
    # A refused reservation has nothing to take back.
    write(engine, lambda c: throttle.refund_login_attempt(c, throttle.LoginReservation()))
    assert failure_rows(engine) == 1


def test_a_pending_charge_left_by_a_dead_daemon_counts_as_a_failure(engine: Engine) -> None:
    for _ in range(LIMITS.login_failures_per_address):
        login_attempt(engine, NOW, "10.1.3.1")  # never settled nor refunded
    later = NOW + timedelta(seconds=throttle.PENDING_SECONDS)
    assert login_attempt(engine, later, "10.1.3.1").blocked_until == NOW + timedelta(minutes=15)


def test_failures_on_one_login_name_block_that_name_only(engine: Engine) -> None:
    """Per address and name, and a higher ceiling per address: one kiosk's typos do not lock
    out the other kiosks behind the same address."""
    cfg = dataclasses.replace(LIMITS, login_failures_per_login=2, login_failures_per_address=5)

    def attempt(tag: str) -> throttle.LoginReservation:
        return write(
            engine,
            lambda c: throttle.reserve_login_attempt(
                c, cfg, address="10.1.4.1", now=NOW, login_tag=tag
            ),
        )

    def fail(tag: str) -> throttle.LoginReservation:
        reservation = attempt(tag)
        write(engine, lambda c: throttle.settle_login_failure(c, cfg, reservation))
        return reservation

    fail("aaaa")
    fail("aaaa")
    assert attempt("aaaa").blocked_until is not None
    other = fail("bbbb")
    assert other.rows and other.blocked_until is None
    fail("cccc")
    fail("dddd")
    assert attempt("eeee").blocked_until is not None, "the address ceiling holds for any name"


# --- housekeeping -------------------------------------------------------------------------------


def test_prune_deletes_only_rows_no_limit_can_see(engine: Engine) -> None:
    horizon = throttle.retention(LIMITS)
    assert horizon == timedelta(minutes=30)

    def seed(conn: Connection) -> None:
        for age in (timedelta(minutes=31), timedelta(minutes=29), timedelta(0)):
            conn.execute(insert(auth_failures).values(scope="address", key="k", at=NOW - age))

    write(engine, seed)
    assert write(engine, lambda c: throttle.prune_failures(c, LIMITS, NOW)) == 1
    assert failure_rows(engine) == 2


# --- two processes ------------------------------------------------------------------------------


def run_worker(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.auth.throttle_worker", url, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out


def charge_together(
    url: str, patron_id: int, count: int, max_failures: int, go: Path
) -> list[dict[str, int]]:
    """Two workers, each reserving ``count`` attempts, released at the same moment."""
    args = (str(patron_id), str(count))
    workers = [
        run_worker(url, "charge", *args, tag, str(go), str(max_failures)) for tag in ("a", "b")
    ]
    for proc in workers:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    go.touch()
    tallies: list[dict[str, int]] = [json.loads(finish(proc)) for proc in workers]
    return tallies


def test_two_processes_share_and_both_count(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Charges made at the same time by two processes all count, and each sees the other's."""
    pid = add_patron(engine, "P200", "x")
    tallies = charge_together(database_url, pid, 8, throttle_worker.HIGH_LIMIT, tmp_path / "go")
    assert tallies == [{"charged": 8, "refused": 0}] * 2
    row = patron_row(engine, pid)
    assert row.pin_failures == 16
    cfg = throttle_worker.CFG
    seen_here = write(
        engine,
        lambda c: throttle.source_state(
            c, cfg, account=throttle_worker.ACCOUNT, address="elsewhere", now=throttle_worker.NOW
        ),
    )
    assert seen_here.failures == 16 and seen_here.delay == cfg.spray_slowdown_seconds

    # And the other way round: what this process charges, a fresh process sees.
    here = write(
        engine,
        lambda c: throttle.reserve_pin_attempt(
            c,
            cfg,
            patron_id=pid,
            barcode="here-0",
            account=throttle_worker.ACCOUNT,
            address=throttle_worker.ADDRESS,
            now=throttle_worker.NOW,
        ),
    )
    assert not here.refused
    seen_there = json.loads(finish(run_worker(database_url, "state", str(pid))))
    assert seen_there == {
        "pin_failures": 17,
        "locked": False,
        "source_failures": 17,
        "delay": cfg.spray_slowdown_seconds,
    }


def test_two_processes_share_one_patron_limit(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """With a limit of 5 and 16 attempts racing from two processes, exactly 5 are charged
    (and so may be verified) however the two interleave; the rest are refused."""
    pid = add_patron(engine, "P201", "x")
    tallies = charge_together(database_url, pid, 8, 5, tmp_path / "go")
    assert sum(t["charged"] for t in tallies) == 5
    assert sum(t["refused"] for t in tallies) == 11
    row = patron_row(engine, pid)
    assert row.pin_failures == 5 and row.pin_locked_until is not None
    seen_there = json.loads(finish(run_worker(database_url, "state", str(pid))))
    assert seen_there["pin_failures"] == 5 and seen_there["locked"]
    assert seen_there["source_failures"] == 5, "refused attempts are not charged to the source"


def test_right_pins_in_flight_do_not_leave_a_spray_block(engine: Engine) -> None:
    """Pending right PINs count as failures while they are verified; once refunded, a block
    they alone made possible is withdrawn (only the one wrong card remains)."""
    limit = LIMITS.spray_block_after
    pids = [add_patron(engine, f"OK{i}", "x") for i in range(limit - 1)]
    flying = [reserve(engine, f"OK{i}", NOW, patron_id=p) for i, p in enumerate(pids)]
    assert reserve(engine, "WRONG-CARD", NOW).newly_blocked
    for pid, pending in zip(pids, flying, strict=True):
        write(engine, lambda c, r=pending, p=pid: throttle.refund_pin_attempt(c, LIMITS, r, p))
    after = state(engine, NOW)
    assert (after.failures, after.blocked_until) == (1, None)


def test_a_block_earned_by_wrong_pins_survives_a_later_refund(engine: Engine) -> None:
    """A refund withdraws a block only when the failures left are under the limit: here the
    right PIN's card also failed once, so the wrong cards still reach it without the refund."""
    limit = LIMITS.spray_block_after
    pid = add_patron(engine, "P-BOTH", "x")
    right = reserve(engine, "P-BOTH", NOW, patron_id=pid)
    reserve(engine, "P-BOTH", NOW, patron_id=pid)  # a wrong guess on the same card
    for i in range(limit - 2):
        reserve(engine, f"BAD{i}", NOW)
    assert reserve(engine, "BAD-LAST", NOW).newly_blocked
    write(engine, lambda c: throttle.refund_pin_attempt(c, LIMITS, right, pid))
    after = state(engine, NOW)
    assert after.failures == limit
    assert after.blocked_until == NOW + timedelta(minutes=LIMITS.spray_block_minutes)


def test_refund_keeps_the_charges_other_attempts_made_since(engine: Engine) -> None:
    """A right PIN ends the failures counted before it, not the guesses charged after it."""
    pid = add_patron(engine, "P", "x")
    legit = reserve(engine, "P", NOW, patron_id=pid, account="desk", address="a0")
    for i in range(4):
        reserve(engine, "P", NOW, patron_id=pid, account=f"k{i}", address=f"b{i}")
    assert patron_row(engine, pid).pin_locked_until is not None
    write(engine, lambda c: throttle.refund_pin_attempt(c, LIMITS, legit, pid))
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (4, None)
