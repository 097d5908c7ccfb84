"""PinGate end to end: a real DatabaseRunner on SQLite and PostgreSQL, real argon2 (cheap
parameters) in worker threads, time passed in by the test.

The gate charges every attempt before verifying it (issue #14), so besides the outcomes these
tests pin down what each path costs: how many argon2 verifications ran (a spy on
``PasswordHasher.verify``) and how many write transactions the runner was asked for. The
concurrent tests fire bursts from a trio nursery through a runner that gives every write its own
thread, which is the situation the old read-verify-write gate lost (60 of 60 guesses verified).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
import pytest
import trio
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

from sip2d.auth.events import AuthEvent
from sip2d.auth.gate import (
    LoginCheck,
    PatronPinState,
    PinGate,
    PinOutcome,
    PinResult,
    make_hash_limiter,
)
from sip2d.auth.hashing import PinHasher, Verification
from sip2d.auth.session_cache import PinSessionCache, new_cache_key
from sip2d.config import AuthConfig, DatabaseConfig, ThrottleConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.models import KioskAccount, auth_failures, kiosk_accounts, patrons
from sip2d.storage.runner import DatabaseRunner
from tests.auth.conftest import NOW, add_patron, patron_row
from tests.auth.secret_scan import assert_secret_absent

T = TypeVar("T")
PIN = "730519"
WRONG = "845026"
NEW_PIN = "662091"
LIMITS = ThrottleConfig(
    max_failures=5,
    lockout_minutes=15,
    spray_window_minutes=10,
    spray_slowdown_after=3,
    spray_slowdown_seconds=0.05,
    spray_block_after=5,
    spray_block_minutes=30,
    login_failures_per_address=3,
    login_block_minutes=15,
)
# Size of the concurrent bursts: ten times every limit above.
BURST = 50


class CountingRunner(DatabaseRunner):
    """The real runner, counting write transactions and how many ran in threads at once.

    ``peak`` lets a concurrency test prove its writes really overlapped; a burst that ran one
    write at a time would pass without testing anything.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.peak = 0
        self._running = 0
        self._lock = threading.Lock()

    async def write(self, fn: Callable[[Connection], T]) -> T:
        self.writes += 1
        return await super().write(fn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        with self._lock:
            self._running += 1
            self.peak = max(self.peak, self._running)
        try:
            return super().write_sync(fn)
        finally:
            with self._lock:
                self._running -= 1


class Argon2Spy:
    """Counts argon2 verifications (real ones and the dummy), from any thread."""

    def __init__(self) -> None:
        self.calls = 0
        self.on_main_thread = 0
        self.lock = threading.Lock()


@pytest.fixture
def argon2_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Argon2Spy]:
    spy = Argon2Spy()
    real = PasswordHasher.verify

    def verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        with spy.lock:
            spy.calls += 1
            if threading.current_thread() is threading.main_thread():
                spy.on_main_thread += 1
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    yield spy
    assert spy.on_main_thread == 0, "argon2 ran on the event loop thread"


@pytest.fixture
def events() -> list[AuthEvent]:
    return []


@pytest.fixture
def runner(engine: Engine) -> CountingRunner:
    return CountingRunner(engine, trio.CapacityLimiter(4))


@pytest.fixture
def gate(hasher: PinHasher, runner: CountingRunner, events: list[AuthEvent]) -> PinGate:
    return PinGate(hasher, LIMITS, runner, trio.CapacityLimiter(2), metrics=events.append)


@pytest.fixture
def wide_runner(engine: Engine, database_url: str) -> Iterator[CountingRunner]:
    """A default runner (no group-commit writer) on a pool wide enough for many threads.

    Depends on ``engine`` so the schema is migrated first.
    """
    wide = make_engine(DatabaseConfig(pool_size=16), url=database_url)
    yield CountingRunner(wide)
    wide.dispose()


@pytest.fixture
def wide_gate(hasher: PinHasher, wide_runner: CountingRunner, events: list[AuthEvent]) -> PinGate:
    return PinGate(hasher, LIMITS, wide_runner, trio.CapacityLimiter(8), metrics=events.append)


def load(engine: Engine, patron_id: int) -> PatronPinState:
    return PatronPinState.from_row(patron_row(engine, patron_id))


async def check(
    gate: PinGate,
    engine: Engine,
    patron_id: int | None,
    pin: str,
    now: datetime,
    **kw: Any,
) -> PinResult:
    """One check as a handler makes it: the patron row loaded fresh for this message."""
    patron = load(engine, patron_id) if patron_id is not None else None
    kw.setdefault("account", "kiosk1")
    kw.setdefault("address", "10.0.0.5")
    return await gate.check(patron, pin, now=now, **kw)


def failure_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(auth_failures)).scalar_one())


def set_pin_hash(engine: Engine, patron_id: int, record: str) -> None:
    """A PIN change as the desk or an import makes it: a new record in the patron row."""
    with engine.begin() as conn:
        conn.execute(update(patrons).where(patrons.c.id == patron_id).values(pin_hash=record))


async def test_five_wrong_pins_lock_then_no_verification(
    gate: PinGate,
    hasher: PinHasher,
    engine: Engine,
    runner: CountingRunner,
    argon2_spy: Argon2Spy,
    events: list[AuthEvent],
) -> None:
    pid = add_patron(engine, "P1", hasher.hash(PIN))
    # One kiosk per attempt so the spray limits stay out of this test.
    for n in range(1, 5):
        result = await check(gate, engine, pid, WRONG, NOW, account=f"k{n}", address=f"a{n}")
        assert result.outcome is PinOutcome.WRONG
        assert (result.screen_message, result.locked_until) == ("Invalid PIN", None)
    fifth = await check(gate, engine, pid, WRONG, NOW, account="k5", address="a5")
    assert fifth.outcome is PinOutcome.WRONG
    assert fifth.locked_until == NOW + timedelta(minutes=15)
    assert fifth.screen_message == "Invalid PIN. PIN locked, try again in 15 minutes"
    assert events.count(AuthEvent.PATRON_LOCKED) == 1

    verifies, writes, rows = argon2_spy.calls, runner.writes, failure_rows(engine)
    later = NOW + timedelta(minutes=3, seconds=30)
    locked = await check(gate, engine, pid, PIN, later, account="k6", address="a6")
    assert locked.outcome is PinOutcome.LOCKED and not locked.ok
    assert locked.screen_message == "PIN locked, try again in 12 minutes"
    assert locked.locked_until == NOW + timedelta(minutes=15)
    assert argon2_spy.calls == verifies, "a locked patron's PIN must not be verified"
    # The refused reservation is the only transaction, and it changed nothing.
    assert runner.writes == writes + 1
    assert patron_row(engine, pid).pin_failures == 5
    assert failure_rows(engine) == rows, "a refused attempt is not charged to its source"
    assert AuthEvent.PIN_LOCKED in events

    # Once the lock has passed the right PIN works and clears the count.
    ok = await check(gate, engine, pid, PIN, NOW + timedelta(minutes=15), account="k7")
    assert ok.outcome is PinOutcome.OK and ok.screen_message == ""
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (0, None)


async def test_after_the_lock_one_more_guess_then_locked_again(
    gate: PinGate, hasher: PinHasher, engine: Engine, argon2_spy: Argon2Spy
) -> None:
    """The count survives the lock: each lockout window buys an attacker exactly one guess."""
    pid = add_patron(engine, "P1B", hasher.hash(PIN), pin_failures=5, pin_locked_until=NOW)
    later = NOW + timedelta(minutes=1)
    verifies = argon2_spy.calls
    guess = await check(gate, engine, pid, WRONG, later, account="k1", address="a1")
    assert guess.outcome is PinOutcome.WRONG
    assert guess.locked_until == later + timedelta(minutes=15)
    second = await check(gate, engine, pid, PIN, later, account="k2", address="a2")
    assert second.outcome is PinOutcome.LOCKED
    assert argon2_spy.calls == verifies + 1
    assert patron_row(engine, pid).pin_failures == 6


async def test_what_each_answer_costs_in_writes(
    gate: PinGate, hasher: PinHasher, engine: Engine, runner: CountingRunner
) -> None:
    """Wrong: the charge alone. Right: the charge and its refund. Cached: nothing at all."""
    pid = add_patron(engine, "P2", hasher.hash(PIN))
    writes = runner.writes
    await check(gate, engine, pid, WRONG, NOW)
    assert runner.writes == writes + 1
    await check(gate, engine, pid, WRONG, NOW)
    assert runner.writes == writes + 2
    assert patron_row(engine, pid).pin_failures == 2

    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    writes = runner.writes
    assert (await check(gate, engine, pid, PIN, NOW, cache=cache)).ok
    assert runner.writes == writes + 2
    assert patron_row(engine, pid).pin_failures == 0
    # Nothing to reset any more: still charged and refunded, never answered unaccounted.
    assert (await check(gate, engine, pid, PIN, NOW)).ok
    assert runner.writes == writes + 4
    assert patron_row(engine, pid).pin_failures == 0

    writes = runner.writes
    cached = await check(gate, engine, pid, PIN, NOW, cache=cache)
    assert cached.ok and cached.cached
    assert runner.writes == writes


async def test_right_pin_refunds_its_source_rows(
    gate: PinGate, hasher: PinHasher, engine: Engine
) -> None:
    """A right PIN must leave the source's counters as it found them, or busy kiosks would
    drift towards the spray limits on their patrons' successes."""
    pid = add_patron(engine, "P2B", hasher.hash(PIN))
    await check(gate, engine, None, WRONG, NOW, barcode="STRANGER")
    before = failure_rows(engine)
    assert before == 2, "the stranger counts once per source (account and address)"
    assert (await check(gate, engine, pid, PIN, NOW)).ok
    assert failure_rows(engine) == before
    with engine.connect() as conn:
        cards = conn.execute(text("SELECT DISTINCT patron_barcode FROM auth_failures")).scalars()
        assert list(cards) == ["STRANGER"]


async def test_right_pin_that_reaches_the_spray_limit_takes_the_block_back(
    gate: PinGate, hasher: PinHasher, engine: Engine, argon2_spy: Argon2Spy
) -> None:
    """The attempt that trips the block was charged as a failure; once it proves right, the
    source is not blocked after all (four failed cards stay below the limit of five)."""
    pid = add_patron(engine, "P2C", hasher.hash(PIN))
    for i in range(4):
        await check(gate, engine, None, WRONG, NOW, barcode=f"C{i}")
    assert (await check(gate, engine, pid, PIN, NOW)).ok
    verifies = argon2_spy.calls
    after = await check(gate, engine, None, WRONG, NOW, barcode="C9")
    assert after.outcome is PinOutcome.UNKNOWN_PATRON, "the source must not stay blocked"
    assert argon2_spy.calls == verifies + 1


async def test_legacy_bcrypt_pin_is_upgraded_on_login(
    gate: PinGate, hasher: PinHasher, engine: Engine, events: list[AuthEvent]
) -> None:
    legacy = bcrypt.hashpw(PIN.encode(), bcrypt.gensalt(4)).decode()
    pid = add_patron(engine, "P3", legacy)
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    assert (await check(gate, engine, pid, PIN, NOW, cache=cache)).ok
    stored = patron_row(engine, pid).pin_hash
    assert stored.startswith(f"$sip2d$k={hasher.key_id}$argon2id$")
    assert AuthEvent.HASH_UPGRADED in events
    # The session remembers the record now stored, so the upgrade does not end it.
    assert PinGate.remembered(load(engine, pid), cache, NOW)
    assert (await check(gate, engine, pid, PIN, NOW)).ok
    assert patron_row(engine, pid).pin_hash == stored


async def test_the_charge_checks_the_record_stored_now(
    gate: PinGate, hasher: PinHasher, engine: Engine
) -> None:
    """The handler loaded the patron before the desk changed the PIN; the charge reads the
    record again, so the old PIN is checked against the new record, and fails."""
    legacy = bcrypt.hashpw(PIN.encode(), bcrypt.gensalt(4)).decode()
    pid = add_patron(engine, "P3B", legacy)
    stale = load(engine, pid)
    changed = hasher.hash(NEW_PIN)
    set_pin_hash(engine, pid, changed)
    result = await gate.check(stale, PIN, account="kiosk1", address="10.0.0.5", now=NOW)
    assert result.outcome is PinOutcome.WRONG
    assert patron_row(engine, pid).pin_hash == changed


async def test_upgrade_never_overwrites_a_pin_changed_during_verification(
    gate: PinGate, hasher: PinHasher, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The desk changes the PIN while argon2 runs for the old one: the refund must not store
    the old PIN's upgraded record over the new one, and the session must not remember it."""
    legacy = bcrypt.hashpw(PIN.encode(), bcrypt.gensalt(4)).decode()
    pid = add_patron(engine, "P3C", legacy)
    changed = hasher.hash(NEW_PIN)
    real = hasher.verify

    def verify_while_desk_changes_pin(record: str | None, secret: str) -> Verification:
        verification = real(record, secret)
        set_pin_hash(engine, pid, changed)
        return verification

    monkeypatch.setattr(hasher, "verify", verify_while_desk_changes_pin)
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    # Right against the record the charge read: a success, but only for this message.
    assert (await check(gate, engine, pid, PIN, NOW, cache=cache)).ok
    assert patron_row(engine, pid).pin_hash == changed
    assert not PinGate.remembered(load(engine, pid), cache, NOW)


async def test_unknown_card_and_no_pin_take_the_verify_path(
    gate: PinGate, engine: Engine, argon2_spy: Argon2Spy
) -> None:
    pid = add_patron(engine, "P4", None)
    before = argon2_spy.calls
    unknown = await check(gate, engine, None, PIN, NOW, barcode="NOPE-1")
    assert unknown.outcome is PinOutcome.UNKNOWN_PATRON
    assert unknown.screen_message == "Invalid PIN"
    no_pin = await check(gate, engine, pid, PIN, NOW)
    assert no_pin.outcome is PinOutcome.NO_PIN
    assert argon2_spy.calls == before + 2
    # Both counted against the source, by card; neither against a patron.
    assert patron_row(engine, pid).pin_failures == 0
    with engine.connect() as conn:
        cards = conn.execute(
            text("SELECT patron_barcode FROM auth_failures WHERE scope = 'address'")
        ).scalars()
        assert sorted(cards) == ["NOPE-1", "P4"]


async def test_spray_is_slowed_then_blocked(
    gate: PinGate,
    hasher: PinHasher,
    engine: Engine,
    runner: CountingRunner,
    argon2_spy: Argon2Spy,
    events: list[AuthEvent],
) -> None:
    victim = add_patron(engine, "VICTIM", hasher.hash(PIN))
    results = []
    for i in range(5):
        at = NOW + timedelta(seconds=i)
        results.append(await check(gate, engine, None, "1234", at, barcode=f"C{i}"))
    assert [r.outcome for r in results] == [PinOutcome.UNKNOWN_PATRON] * 5
    assert [r.delay for r in results] == [0.0, 0.0, 0.0, 0.05, 0.05]
    assert events.count(AuthEvent.SPRAY_SLOWED) == 1
    assert events.count(AuthEvent.SPRAY_BLOCKED) == 1

    verifies, writes, rows = argon2_spy.calls, runner.writes, failure_rows(engine)
    at = NOW + timedelta(minutes=1)
    # Even the right PIN is refused, without verifying: a hit must look like a miss.
    refused = await check(gate, engine, victim, PIN, at)
    assert refused.outcome is PinOutcome.SOURCE_BLOCKED
    assert refused.locked_until == NOW + timedelta(seconds=4, minutes=30)
    assert "Too many failed PIN attempts" in refused.screen_message
    # The same address under another kiosk account is blocked too.
    other = await check(gate, engine, victim, PIN, at, account="kiosk2")
    assert other.outcome is PinOutcome.SOURCE_BLOCKED
    assert argon2_spy.calls == verifies
    # Refused before the patron is touched: one transaction each, nothing written.
    assert runner.writes == writes + 2
    assert failure_rows(engine) == rows
    assert patron_row(engine, victim).pin_failures == 0
    # Another kiosk elsewhere is unaffected.
    elsewhere = await check(gate, engine, victim, PIN, at, account="k9", address="10.0.0.9")
    assert elsewhere.ok

    after = NOW + timedelta(seconds=4, minutes=30)
    assert (await check(gate, engine, victim, PIN, after)).ok


async def test_session_cache_answers_repeats_without_argon2(
    gate: PinGate, hasher: PinHasher, engine: Engine, argon2_spy: Argon2Spy
) -> None:
    pid = add_patron(engine, "P5", hasher.hash(PIN))
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    assert not PinGate.remembered(load(engine, pid), cache, NOW)
    first = await check(gate, engine, pid, PIN, NOW, cache=cache)
    assert first.ok and not first.cached
    assert PinGate.remembered(load(engine, pid), cache, NOW)
    verifies = argon2_spy.calls
    for n in range(10):
        again = await check(gate, engine, pid, PIN, NOW + timedelta(seconds=n), cache=cache)
        assert again.ok and again.cached
    assert argon2_spy.calls == verifies
    wrong = await check(gate, engine, pid, WRONG, NOW, cache=cache)
    assert wrong.outcome is PinOutcome.WRONG and not wrong.cached
    assert cache.patron is None, "a wrong PIN ends the remembered session"
    assert not PinGate.remembered(load(engine, pid), cache, NOW)
    assert not (await check(gate, engine, pid, PIN, NOW, cache=cache)).cached


async def test_pin_change_ends_a_remembered_session(
    gate: PinGate, hasher: PinHasher, engine: Engine, argon2_spy: Argon2Spy
) -> None:
    """After a PIN change the old PIN must fail on the very next message, cache or not."""
    pid = add_patron(engine, "P5B", hasher.hash(PIN))
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    assert (await check(gate, engine, pid, PIN, NOW, cache=cache)).ok
    set_pin_hash(engine, pid, hasher.hash(NEW_PIN))

    changed = load(engine, pid)
    assert not PinGate.remembered(changed, cache, NOW)
    assert not cache.matches(changed.barcode, PIN, changed.pin_hash, NOW)
    assert not cache.holds(changed.barcode, changed.pin_hash, NOW)
    verifies = argon2_spy.calls
    old = await check(gate, engine, pid, PIN, NOW, cache=cache)
    assert old.outcome is PinOutcome.WRONG and not old.cached
    assert argon2_spy.calls == verifies + 1, "the old PIN was verified against the new record"
    new = await check(gate, engine, pid, NEW_PIN, NOW, cache=cache)
    assert new.ok and not new.cached


def test_remembered_needs_a_patron_and_a_cache() -> None:
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    cache.remember("P1", PIN, "record", NOW)
    patron = PatronPinState(id=1, barcode="P1", pin_hash="record")
    assert PinGate.remembered(patron, cache, NOW)
    assert not PinGate.remembered(None, cache, NOW)
    assert not PinGate.remembered(patron, None, NOW)


async def test_reconfigure_applies_new_limits(
    gate: PinGate, hasher: PinHasher, engine: Engine
) -> None:
    pid = add_patron(engine, "P6", hasher.hash(PIN))
    gate.reconfigure(ThrottleConfig(max_failures=1, lockout_minutes=2))
    result = await check(gate, engine, pid, WRONG, NOW)
    assert result.locked_until == NOW + timedelta(minutes=2)


def add_account(engine: Engine, login: str, password_hash: str, enabled: bool = True) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(KioskAccount).values(login=login, password_hash=password_hash, enabled=enabled)
        )


def account_row(engine: Engine, login: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(kiosk_accounts).where(kiosk_accounts.c.login == login)).one()


async def test_kiosk_login_and_per_address_limit(
    gate: PinGate,
    hasher: PinHasher,
    engine: Engine,
    argon2_spy: Argon2Spy,
    events: list[AuthEvent],
) -> None:
    password = "kiosk-pass-Qz8v1"
    add_account(engine, "sc1", hasher.hash(password))
    add_account(engine, "sc-off", hasher.hash(password), enabled=False)
    login = gate.check_kiosk_login
    row = account_row(engine, "sc1")
    assert await login(row, password, login="sc", address="10.2.0.1", now=NOW) is LoginCheck.OK
    off = account_row(engine, "sc-off")
    assert await login(off, password, login="sc", address="10.2.0.9", now=NOW) is LoginCheck.REFUSED
    assert (
        await login(row, "wrong-pass", login="sc", address="10.2.0.1", now=NOW)
        is LoginCheck.REFUSED
    )
    assert (
        await login(None, password, login="sc", address="10.2.0.1", now=NOW) is LoginCheck.REFUSED
    )
    # The right password's charge was refunded, so two failures stand: not blocked yet.
    assert AuthEvent.LOGIN_ADDRESS_BLOCKED not in events
    assert (
        await login(row, "wrong-again", login="sc", address="10.2.0.1", now=NOW)
        is LoginCheck.REFUSED
    )
    assert AuthEvent.LOGIN_ADDRESS_BLOCKED in events
    verifies = argon2_spy.calls
    five_later = NOW + timedelta(minutes=5)
    assert (
        await login(row, password, login="sc", address="10.2.0.1", now=five_later)
        is LoginCheck.BLOCKED
    )
    assert argon2_spy.calls == verifies, "a blocked address gets no verification"
    assert AuthEvent.LOGIN_BLOCKED in events
    assert (
        await login(row, password, login="sc", address="10.2.0.2", now=five_later) is LoginCheck.OK
    )
    fifteen_later = NOW + timedelta(minutes=15)
    assert (
        await login(row, password, login="sc", address="10.2.0.1", now=fifteen_later)
        is LoginCheck.OK
    )


async def test_kiosk_login_costs(
    gate: PinGate, hasher: PinHasher, engine: Engine, runner: CountingRunner
) -> None:
    """A right password is charged and refunded (two writes, no row left); a wrong one is
    charged and settled as a failure, and its rows are what the limits count."""
    add_account(engine, "sc4", hasher.hash("kiosk-pass-Mm41"))
    row = account_row(engine, "sc4")
    writes = runner.writes
    ok = await gate.check_kiosk_login(
        row, "kiosk-pass-Mm41", login="sc", address="10.5.0.1", now=NOW
    )
    assert ok is LoginCheck.OK
    assert (runner.writes, failure_rows(engine)) == (writes + 2, 0)
    # A wrong one leaves its charge: one row for the address, one for the address and name.
    bad = await gate.check_kiosk_login(row, "nope-nope", login="sc", address="10.5.0.1", now=NOW)
    assert bad is LoginCheck.REFUSED
    assert (runner.writes, failure_rows(engine)) == (writes + 4, 2)  # charge, then settle


async def test_kiosk_password_upgrade(gate: PinGate, hasher: PinHasher, engine: Engine) -> None:
    password = "legacy-kiosk-Pw7"
    add_account(engine, "sc2", bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode())
    result = await gate.check_kiosk_login(
        account_row(engine, "sc2"), password, login="sc", address="10.3.0.1", now=NOW
    )
    assert result is LoginCheck.OK
    stored = account_row(engine, "sc2").password_hash
    assert stored.startswith(f"$sip2d$k={hasher.key_id}$")
    assert hasher.verify(stored, password).ok


async def test_hash_runs_off_the_event_loop(gate: PinGate, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = PasswordHasher.hash

    def spy(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
        threads.append(threading.current_thread())
        return real(self, password, salt=salt)

    monkeypatch.setattr(PasswordHasher, "hash", spy)
    record = await gate.hash(PIN)
    assert threads and threading.main_thread() not in threads
    assert gate.hasher.verify(record, PIN).ok


def test_hash_limiter_sizing() -> None:
    assert make_hash_limiter(AuthConfig(hash_threads=3)).total_tokens == 3
    assert make_hash_limiter(AuthConfig(hash_threads=0)).total_tokens == (os.cpu_count() or 1)


# --- bursts: many checks in flight at once ------------------------------------------------


async def burst(checks: list[Callable[[], Any]]) -> list[Any]:
    """Start every check in one nursery and return their answers (in completion order)."""
    answers: list[Any] = []

    async def run(one: Callable[[], Any]) -> None:
        answers.append(await one())

    async with trio.open_nursery() as nursery:
        for one in checks:
            nursery.start_soon(run, one)
    return answers


def assert_overlapped(runner: CountingRunner) -> None:
    assert runner.peak > 1, "the burst's writes ran one at a time: nothing was tested"


@pytest.mark.parametrize("spread", [False, True], ids=["one-kiosk", "many-kiosks"])
async def test_a_burst_on_one_card_verifies_at_most_max_failures(
    wide_gate: PinGate,
    wide_runner: CountingRunner,
    hasher: PinHasher,
    engine: Engine,
    argon2_spy: Argon2Spy,
    spread: bool,
) -> None:
    """Issue #14: BURST distinct guesses for one card at once, all made from the patron row as
    it was before the burst (not locked). Only max_failures may reach argon2.

    Spread over kiosks and addresses, no source lock serialises the burst: only the patron
    row's conditional charge stands between it and argon2.
    """
    pid = add_patron(engine, "BURST", hasher.hash(PIN))
    before_burst = load(engine, pid)
    guesses = [str(900000 + n) for n in range(BURST)]
    assert PIN not in guesses

    def guess(n: int, pin: str) -> Callable[[], Any]:
        account, address = (f"k{n}", f"10.8.0.{n}") if spread else ("kiosk1", "10.0.0.5")
        return lambda: wide_gate.check(before_burst, pin, account=account, address=address, now=NOW)

    verifies = argon2_spy.calls
    answers = await burst([guess(n, pin) for n, pin in enumerate(guesses)])
    assert_overlapped(wide_runner)
    outcomes = Counter(a.outcome for a in answers)
    limit = LIMITS.max_failures
    assert outcomes == {PinOutcome.WRONG: limit, PinOutcome.LOCKED: BURST - limit}, outcomes
    assert argon2_spy.calls - verifies <= limit
    assert argon2_spy.calls - verifies == limit, "every charged guess is verified"
    assert patron_row(engine, pid).pin_failures == limit

    verifies = argon2_spy.calls
    right = await wide_gate.check(
        load(engine, pid), PIN, account="kiosk9", address="10.9.0.1", now=NOW
    )
    assert right.outcome is PinOutcome.LOCKED
    assert argon2_spy.calls == verifies


async def test_a_parallel_spray_verifies_at_most_the_spray_limit(
    wide_gate: PinGate,
    wide_runner: CountingRunner,
    hasher: PinHasher,
    engine: Engine,
    argon2_spy: Argon2Spy,
) -> None:
    """One wrong PIN on BURST distinct cards at once from one kiosk: each card is far from its
    own lock, so only the source's limit can stop the spray, and it must stop it at
    ``spray_block_after`` cards verified."""
    record = hasher.hash(PIN)
    cards = [load(engine, add_patron(engine, f"S{n:02d}", record)) for n in range(BURST)]

    def guess(card: PatronPinState) -> Callable[[], Any]:
        return lambda: wide_gate.check(card, WRONG, account="kiosk1", address="10.0.0.5", now=NOW)

    verifies = argon2_spy.calls
    answers = await burst([guess(card) for card in cards])
    assert_overlapped(wide_runner)
    outcomes = Counter(a.outcome for a in answers)
    limit = LIMITS.spray_block_after
    assert outcomes == {PinOutcome.WRONG: limit, PinOutcome.SOURCE_BLOCKED: BURST - limit}, outcomes
    assert argon2_spy.calls - verifies <= limit
    with engine.connect() as conn:
        charged = conn.execute(select(func.sum(patrons.c.pin_failures))).scalar_one()
    assert charged == limit, "refused attempts must not be charged to their cards"


async def test_parallel_kiosk_logins_verify_at_most_the_address_limit(
    wide_gate: PinGate,
    wide_runner: CountingRunner,
    hasher: PinHasher,
    engine: Engine,
    argon2_spy: Argon2Spy,
) -> None:
    """BURST wrong kiosk passwords at once from one address: the per-address limit holds."""
    add_account(engine, "sc5", hasher.hash("kiosk-pass-Lx02"))
    row = account_row(engine, "sc5")
    guesses = [f"guess-{n:03d}" for n in range(BURST)]

    def guess(password: str) -> Callable[[], Any]:
        return lambda: wide_gate.check_kiosk_login(
            row, password, login="sc", address="10.6.0.1", now=NOW
        )

    verifies = argon2_spy.calls
    answers = await burst([guess(password) for password in guesses])
    assert_overlapped(wide_runner)
    limit = LIMITS.login_failures_per_address
    assert Counter(answers) == {LoginCheck.REFUSED: limit, LoginCheck.BLOCKED: BURST - limit}
    assert argon2_spy.calls - verifies <= limit
    assert failure_rows(engine) == 2 * limit  # the address and the address with the name
    blocked = await wide_gate.check_kiosk_login(
        row, "kiosk-pass-Lx02", login="sc", address="10.6.0.1", now=NOW
    )
    assert blocked is LoginCheck.BLOCKED


# --- secrets ----------------------------------------------------------------------------------


def database_files(url: str) -> list[Path]:
    """The SQLite file (its -wal/-shm are scanned with it); PostgreSQL is scanned by dump."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return []
    return [Path(parsed.database)]


async def test_no_pin_or_password_in_database_or_logs(
    gate: PinGate,
    hasher: PinHasher,
    engine: Engine,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    password = "kiosk-secret-Wq93x"
    legacy = bcrypt.hashpw(PIN.encode(), bcrypt.gensalt(4)).decode()
    pid = add_patron(engine, "P7", legacy)
    add_account(engine, "sc3", hasher.hash(password))
    assert (await check(gate, engine, pid, PIN, NOW)).ok  # bcrypt upgrade written
    for i in range(6):
        await check(gate, engine, pid, WRONG, NOW, address=f"10.4.0.{i}")
    for i in range(6):
        await check(gate, engine, None, PIN, NOW, barcode=f"X{i}", address="10.4.1.1")
    await gate.check_kiosk_login(
        account_row(engine, "sc3"), password, login="sc", address="a", now=NOW
    )
    for _ in range(4):
        await gate.check_kiosk_login(
            account_row(engine, "sc3"), WRONG, login="sc", address="b", now=NOW
        )

    with engine.connect() as conn:
        dump = "\n".join(
            repr(row)
            for table in ("patrons", "kiosk_accounts", "auth_failures")
            for row in conn.execute(text(f"SELECT * FROM {table}")).all()
        )
    haystacks: list[str | bytes | Path] = [dump, caplog.text, *database_files(database_url)]
    for secret in (PIN, WRONG, password):
        assert_secret_absent(secret, *haystacks)
    assert "$sip2d$k=" in dump, "the dump holds the hashes it was meant to scan"
