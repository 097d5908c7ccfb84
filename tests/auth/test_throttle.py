"""Guessing limits on real SQLite files and the real PostgreSQL, with time passed in."""

from __future__ import annotations

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


def write(engine: Engine, fn: Callable[[Connection], T]) -> T:
    return DatabaseRunner(engine).write_sync(fn)


def fail_patron(engine: Engine, patron_id: int, now: datetime) -> throttle.PatronFailure:
    return write(engine, lambda c: throttle.record_patron_failure(c, patron_id, LIMITS, now))


def test_lockout_after_consecutive_failures(engine: Engine) -> None:
    pid = add_patron(engine, "P100", "x")
    for n in range(1, 5):
        result = fail_patron(engine, pid, NOW + timedelta(seconds=n))
        assert (result.failures, result.locked_until, result.newly_locked) == (n, None, False)
    fifth = fail_patron(engine, pid, NOW + timedelta(seconds=5))
    until = NOW + timedelta(seconds=5, minutes=15)
    assert (fifth.failures, fifth.locked_until, fifth.newly_locked) == (5, until, True)
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (5, until)
    assert throttle.is_locked(row.pin_locked_until, until - timedelta(seconds=1))
    assert not throttle.is_locked(row.pin_locked_until, until)

    # After the lock ends the count stands: one more wrong PIN locks again at once.
    later = until + timedelta(minutes=1)
    again = fail_patron(engine, pid, later)
    assert again.failures == 6 and again.newly_locked
    assert again.locked_until == later + timedelta(minutes=15)


def test_success_resets_and_stores_upgrade_only_over_the_same_hash(engine: Engine) -> None:
    pid = add_patron(engine, "P101", "old-record", pin_failures=3, pin_locked_until=NOW)
    write(
        engine,
        lambda c: throttle.record_patron_success(c, pid, upgraded="new-record", old_hash="stale"),
    )
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until, row.pin_hash) == (0, None, "old-record")
    write(
        engine,
        lambda c: throttle.record_patron_success(
            c, pid, upgraded="new-record", old_hash="old-record"
        ),
    )
    assert patron_row(engine, pid).pin_hash == "new-record"


def test_staff_unlock(engine: Engine) -> None:
    pid = add_patron(engine, "P102", "x", pin_failures=7, pin_locked_until=NOW)
    assert write(engine, lambda c: throttle.unlock_patron(c, "P102"))
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (0, None)
    assert not write(engine, lambda c: throttle.unlock_patron(c, "NOPE"))


def test_failure_for_missing_patron_changes_nothing(engine: Engine) -> None:
    assert fail_patron(engine, 424242, NOW) == throttle.PatronFailure(0, None, False)


def spray(engine: Engine, barcode: str, now: datetime, **source: str) -> throttle.SprayUpdate:
    account, address = source.get("account", "kiosk1"), source.get("address", "10.0.0.5")
    return write(
        engine,
        lambda c: throttle.record_source_failure(
            c, LIMITS, account=account, address=address, patron_barcode=barcode, now=now
        ),
    )


def state(engine: Engine, now: datetime, **source: str) -> throttle.SourceState:
    account, address = source.get("account", "kiosk1"), source.get("address", "10.0.0.5")
    return write(
        engine,
        lambda c: throttle.source_state(c, LIMITS, account=account, address=address, now=now),
    )


def test_spray_slows_then_blocks_then_expires(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    t = [NOW + timedelta(seconds=10 * i) for i in range(6)]
    assert spray(engine, "C0", t[0]).failures == 1
    # The same card again is not a spray: distinct cards count.
    assert spray(engine, "C0", t[1]).failures == 1
    assert spray(engine, "C1", t[1]).failures == 2
    assert state(engine, t[1]).delay == 0.0
    third = spray(engine, "C2", t[2])
    assert third.slowed and third.newly_slowed and not third.newly_blocked
    assert state(engine, t[2]) == throttle.SourceState(None, 2.0, 3)
    assert not spray(engine, "C3", t[3]).newly_slowed
    fifth = spray(engine, "C4", t[4])
    assert fifth.newly_blocked and fifth.blocked_until == t[4] + timedelta(minutes=30)
    assert not spray(engine, "C5", t[5]).newly_blocked, "one block at a time"

    blocked = state(engine, t[5] + timedelta(minutes=29))
    assert blocked.blocked_until == t[4] + timedelta(minutes=30)
    # Either key alone carries the block: the account from another address, the address
    # under another account.
    assert state(engine, t[5], address="10.0.0.99").blocked_until is not None
    assert state(engine, t[5], account="kiosk2").blocked_until is not None
    assert state(engine, t[5], account="kiosk2", address="10.0.0.99").blocked_until is None

    after = state(engine, t[4] + timedelta(minutes=30))
    assert after == throttle.SourceState(None, 0.0, 0), "block over, failures out of window"
    assert "slowing answers" in caplog.text and "refusing PIN checks" in caplog.text


def test_spray_window_slides(engine: Engine) -> None:
    spray(engine, "C0", NOW)
    spray(engine, "C1", NOW + timedelta(minutes=5))
    spray(engine, "C2", NOW + timedelta(minutes=10, seconds=1))  # C0 has left the window
    assert state(engine, NOW + timedelta(minutes=10, seconds=1)).failures == 2


def test_source_without_account(engine: Engine) -> None:
    for i in range(3):
        spray(engine, f"C{i}", NOW, account="")
    assert state(engine, NOW, account="").delay == 2.0
    assert state(engine, NOW, account="kiosk1", address="10.0.0.6").delay == 0.0


def test_login_failures_block_an_address(engine: Engine) -> None:
    def fail(at: datetime, address: str = "10.1.1.1") -> datetime | None:
        return write(
            engine, lambda c: throttle.record_login_failure(c, LIMITS, address=address, now=at)
        )

    def blocked(at: datetime, address: str = "10.1.1.1") -> datetime | None:
        return write(
            engine,
            lambda c: throttle.login_blocked_until(c, LIMITS, address=address, now=at),
        )

    assert fail(NOW) is None
    assert fail(NOW + timedelta(minutes=1)) is None
    until = fail(NOW + timedelta(minutes=2))
    assert until == NOW + timedelta(minutes=15)
    assert blocked(NOW + timedelta(minutes=14)) == until
    assert blocked(NOW + timedelta(minutes=14), address="10.1.1.2") is None
    assert blocked(until) is None


def test_prune_deletes_only_rows_no_limit_can_see(engine: Engine) -> None:
    horizon = throttle.retention(LIMITS)
    assert horizon == timedelta(minutes=30)

    def seed(conn: Connection) -> None:
        for age in (timedelta(minutes=31), timedelta(minutes=29), timedelta(0)):
            conn.execute(insert(auth_failures).values(scope="address", key="k", at=NOW - age))

    write(engine, seed)
    assert write(engine, lambda c: throttle.prune_failures(c, LIMITS, NOW)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(auth_failures)).scalar_one() == 2


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


def test_two_processes_share_and_both_count(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Failures made at the same time by two processes all count, and each sees the other's."""
    pid = add_patron(engine, "P200", "x")
    go = tmp_path / "go"
    workers = [run_worker(database_url, "fail", str(pid), "8", tag, str(go)) for tag in ("a", "b")]
    for proc in workers:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    go.touch()
    for proc in workers:
        finish(proc)
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

    # And the other way round: what this process records, a fresh process sees.
    write(engine, lambda c: throttle.record_patron_failure(c, pid, cfg, throttle_worker.NOW))
    seen_there = json.loads(finish(run_worker(database_url, "state", str(pid))))
    assert seen_there == {
        "pin_failures": 17,
        "locked": False,
        "source_failures": 16,
        "delay": cfg.spray_slowdown_seconds,
    }
