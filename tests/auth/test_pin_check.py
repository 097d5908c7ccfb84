"""PinChecker end to end: a real DatabaseRunner on SQLite and PostgreSQL, real argon2 (cheap
parameters) in worker threads, time passed in by the test."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
import pytest
import trio
from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.engine import make_url

from sip2d.auth.events import AuthEvent
from sip2d.auth.hashing import PinHasher
from sip2d.auth.pin_check import (
    PatronPinState,
    PinChecker,
    PinOutcome,
    make_hash_limiter,
)
from sip2d.auth.session_cache import PinSessionCache, new_cache_key
from sip2d.config import AuthConfig, ThrottleConfig
from sip2d.storage.models import KioskAccount, kiosk_accounts
from sip2d.storage.runner import DatabaseRunner
from tests.auth.conftest import NOW, add_patron, patron_row
from tests.auth.secret_scan import assert_secret_absent

T = TypeVar("T")
PIN = "730519"
WRONG = "845026"
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


class CountingRunner(DatabaseRunner):
    """The real runner, counting write transactions."""

    writes = 0

    async def write(self, fn: Callable[[Connection], T]) -> T:
        self.writes += 1
        return await super().write(fn)


class Argon2Spy:
    def __init__(self) -> None:
        self.calls = 0
        self.on_main_thread = 0


@pytest.fixture
def argon2_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Argon2Spy]:
    spy = Argon2Spy()
    real = PasswordHasher.verify

    def verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
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
def checker(hasher: PinHasher, runner: CountingRunner, events: list[AuthEvent]) -> PinChecker:
    return PinChecker(hasher, LIMITS, runner, trio.CapacityLimiter(2), metrics=events.append)


def load(engine: Engine, patron_id: int) -> PatronPinState:
    return PatronPinState.from_row(patron_row(engine, patron_id))


async def check(
    checker: PinChecker,
    engine: Engine,
    patron_id: int | None,
    pin: str,
    now: datetime,
    **kw: Any,
) -> Any:
    patron = load(engine, patron_id) if patron_id is not None else None
    kw.setdefault("account", "kiosk1")
    kw.setdefault("address", "10.0.0.5")
    return await checker.check(patron, pin, now=now, **kw)


async def test_five_wrong_pins_lock_then_no_verification(
    checker: PinChecker,
    hasher: PinHasher,
    engine: Engine,
    argon2_spy: Argon2Spy,
    events: list[AuthEvent],
) -> None:
    pid = add_patron(engine, "P1", hasher.hash(PIN))
    # One kiosk per attempt so the spray limits stay out of this test.
    for n in range(1, 5):
        result = await check(checker, engine, pid, WRONG, NOW, account=f"k{n}", address=f"a{n}")
        assert result.outcome is PinOutcome.WRONG
        assert (result.screen_message, result.locked_until) == ("Invalid PIN", None)
    fifth = await check(checker, engine, pid, WRONG, NOW, account="k5", address="a5")
    assert fifth.outcome is PinOutcome.WRONG
    assert fifth.locked_until == NOW + timedelta(minutes=15)
    assert fifth.screen_message == "Invalid PIN. PIN locked, try again in 15 minutes"
    assert AuthEvent.PATRON_LOCKED in events

    verifies = argon2_spy.calls
    later = NOW + timedelta(minutes=3, seconds=30)
    locked = await check(checker, engine, pid, PIN, later, account="k6", address="a6")
    assert locked.outcome is PinOutcome.LOCKED and not locked.ok
    assert locked.screen_message == "PIN locked, try again in 12 minutes"
    assert argon2_spy.calls == verifies, "a locked patron's PIN must not be verified"
    assert patron_row(engine, pid).pin_failures == 5

    # Once the lock has passed the right PIN works and clears the count.
    ok = await check(checker, engine, pid, PIN, NOW + timedelta(minutes=15), account="k7")
    assert ok.outcome is PinOutcome.OK and ok.screen_message == ""
    row = patron_row(engine, pid)
    assert (row.pin_failures, row.pin_locked_until) == (0, None)


async def test_success_resets_and_skips_needless_writes(
    checker: PinChecker, hasher: PinHasher, engine: Engine, runner: CountingRunner
) -> None:
    pid = add_patron(engine, "P2", hasher.hash(PIN))
    await check(checker, engine, pid, WRONG, NOW)
    await check(checker, engine, pid, WRONG, NOW)
    assert patron_row(engine, pid).pin_failures == 2
    writes = runner.writes
    assert (await check(checker, engine, pid, PIN, NOW)).ok
    assert runner.writes == writes + 1
    assert patron_row(engine, pid).pin_failures == 0
    assert (await check(checker, engine, pid, PIN, NOW)).ok
    assert runner.writes == writes + 1, "nothing to reset or upgrade: no write"


async def test_legacy_bcrypt_pin_is_upgraded_on_login(
    checker: PinChecker, hasher: PinHasher, engine: Engine, events: list[AuthEvent]
) -> None:
    legacy = bcrypt.hashpw(PIN.encode(), bcrypt.gensalt(4)).decode()
    pid = add_patron(engine, "P3", legacy)
    assert (await check(checker, engine, pid, PIN, NOW)).ok
    stored = patron_row(engine, pid).pin_hash
    assert stored.startswith(f"$sip2d$k={hasher.key_id}$argon2id$")
    assert AuthEvent.HASH_UPGRADED in events
    assert (await check(checker, engine, pid, PIN, NOW)).ok
    assert patron_row(engine, pid).pin_hash == stored


async def test_unknown_card_and_no_pin_take_the_verify_path(
    checker: PinChecker, engine: Engine, argon2_spy: Argon2Spy
) -> None:
    pid = add_patron(engine, "P4", None)
    before = argon2_spy.calls
    unknown = await check(checker, engine, None, PIN, NOW, barcode="NOPE-1")
    assert unknown.outcome is PinOutcome.UNKNOWN_PATRON
    assert unknown.screen_message == "Invalid PIN"
    no_pin = await check(checker, engine, pid, PIN, NOW)
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
    checker: PinChecker,
    hasher: PinHasher,
    engine: Engine,
    argon2_spy: Argon2Spy,
    events: list[AuthEvent],
) -> None:
    victim = add_patron(engine, "VICTIM", hasher.hash(PIN))
    results = []
    for i in range(5):
        at = NOW + timedelta(seconds=i)
        results.append(await check(checker, engine, None, "1234", at, barcode=f"C{i}"))
    assert [r.outcome for r in results] == [PinOutcome.UNKNOWN_PATRON] * 5
    assert [r.delay for r in results] == [0.0, 0.0, 0.0, 0.05, 0.05]
    assert events.count(AuthEvent.SPRAY_SLOWED) == 1
    assert events.count(AuthEvent.SPRAY_BLOCKED) == 1

    verifies = argon2_spy.calls
    at = NOW + timedelta(minutes=1)
    # Even the right PIN is refused, without verifying: a hit must look like a miss.
    refused = await check(checker, engine, victim, PIN, at)
    assert refused.outcome is PinOutcome.SOURCE_BLOCKED
    assert refused.locked_until == NOW + timedelta(seconds=4, minutes=30)
    assert "Too many failed PIN attempts" in refused.screen_message
    # The same address under another kiosk account is blocked too.
    other = await check(checker, engine, victim, PIN, at, account="kiosk2")
    assert other.outcome is PinOutcome.SOURCE_BLOCKED
    assert argon2_spy.calls == verifies
    # Another kiosk elsewhere is unaffected.
    elsewhere = await check(checker, engine, victim, PIN, at, account="k9", address="10.0.0.9")
    assert elsewhere.ok

    after = NOW + timedelta(seconds=4, minutes=30)
    assert (await check(checker, engine, victim, PIN, after)).ok


async def test_session_cache_answers_repeats_without_argon2(
    checker: PinChecker, hasher: PinHasher, engine: Engine, argon2_spy: Argon2Spy
) -> None:
    pid = add_patron(engine, "P5", hasher.hash(PIN))
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    first = await check(checker, engine, pid, PIN, NOW, cache=cache)
    assert first.ok and not first.cached
    verifies = argon2_spy.calls
    for n in range(10):
        again = await check(checker, engine, pid, PIN, NOW + timedelta(seconds=n), cache=cache)
        assert again.ok and again.cached
    assert argon2_spy.calls == verifies
    wrong = await check(checker, engine, pid, WRONG, NOW, cache=cache)
    assert wrong.outcome is PinOutcome.WRONG and not wrong.cached
    assert cache.patron is None, "a wrong PIN ends the remembered session"
    assert not (await check(checker, engine, pid, PIN, NOW, cache=cache)).cached


async def test_reconfigure_applies_new_limits(
    checker: PinChecker, hasher: PinHasher, engine: Engine
) -> None:
    pid = add_patron(engine, "P6", hasher.hash(PIN))
    checker.reconfigure(ThrottleConfig(max_failures=1, lockout_minutes=2))
    result = await check(checker, engine, pid, WRONG, NOW)
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
    checker: PinChecker,
    hasher: PinHasher,
    engine: Engine,
    argon2_spy: Argon2Spy,
    events: list[AuthEvent],
) -> None:
    password = "kiosk-pass-Qz8v1"
    add_account(engine, "sc1", hasher.hash(password))
    add_account(engine, "sc-off", hasher.hash(password), enabled=False)
    login = checker.check_kiosk_login
    row = account_row(engine, "sc1")
    assert await login(row, password, address="10.2.0.1", now=NOW)
    assert not await login(account_row(engine, "sc-off"), password, address="10.2.0.9", now=NOW)
    assert not await login(row, "wrong-pass", address="10.2.0.1", now=NOW)
    assert not await login(None, password, address="10.2.0.1", now=NOW)
    assert AuthEvent.LOGIN_ADDRESS_BLOCKED not in events
    assert not await login(row, "wrong-again", address="10.2.0.1", now=NOW)
    assert AuthEvent.LOGIN_ADDRESS_BLOCKED in events
    verifies = argon2_spy.calls
    assert not await login(row, password, address="10.2.0.1", now=NOW + timedelta(minutes=5))
    assert argon2_spy.calls == verifies, "a blocked address gets no verification"
    assert await login(row, password, address="10.2.0.2", now=NOW + timedelta(minutes=5))
    assert await login(row, password, address="10.2.0.1", now=NOW + timedelta(minutes=15))


async def test_kiosk_password_upgrade(
    checker: PinChecker, hasher: PinHasher, engine: Engine
) -> None:
    password = "legacy-kiosk-Pw7"
    add_account(engine, "sc2", bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode())
    assert await checker.check_kiosk_login(
        account_row(engine, "sc2"), password, address="10.3.0.1", now=NOW
    )
    stored = account_row(engine, "sc2").password_hash
    assert stored.startswith(f"$sip2d$k={hasher.key_id}$")
    assert hasher.verify(stored, password).ok


async def test_hash_runs_off_the_event_loop(
    checker: PinChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real = PasswordHasher.hash

    def spy(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
        threads.append(threading.current_thread())
        return real(self, password, salt=salt)

    monkeypatch.setattr(PasswordHasher, "hash", spy)
    record = await checker.hash(PIN)
    assert threads and threading.main_thread() not in threads
    assert checker.hasher.verify(record, PIN).ok


def test_hash_limiter_sizing() -> None:
    assert make_hash_limiter(AuthConfig(hash_threads=3)).total_tokens == 3
    assert make_hash_limiter(AuthConfig(hash_threads=0)).total_tokens == (os.cpu_count() or 1)


def database_files(url: str) -> list[Path]:
    """The SQLite file (its -wal/-shm are scanned with it); PostgreSQL is scanned by dump."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return []
    return [Path(parsed.database)]


async def test_no_pin_or_password_in_database_or_logs(
    checker: PinChecker,
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
    assert (await check(checker, engine, pid, PIN, NOW)).ok  # bcrypt upgrade written
    for i in range(6):
        await check(checker, engine, pid, WRONG, NOW, address=f"10.4.0.{i}")
    for i in range(6):
        await check(checker, engine, None, PIN, NOW, barcode=f"X{i}", address="10.4.1.1")
    await checker.check_kiosk_login(account_row(engine, "sc3"), password, address="a", now=NOW)
    for _ in range(4):
        await checker.check_kiosk_login(account_row(engine, "sc3"), WRONG, address="b", now=NOW)

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
