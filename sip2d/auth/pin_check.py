"""The PIN and kiosk-login checks the daemon calls, with every limit applied in order.

This module is the only place that decides, for one presented PIN, what happens and in which
order, so that the daemon cannot get the order wrong:

1. a remembered PIN in this patron session (:class:`PinSessionCache`) answers at once;
2. a source (kiosk account / client address) under a spray block is refused *before* any
   verification, so a right guess looks exactly like a wrong one;
3. a locked patron is refused before any verification, for the same reason;
4. otherwise the PIN is verified in a worker thread behind the hashing limiter — argon2 never
   runs on the event loop, and at most ``auth.hash_threads`` verifications run at once so the
   other kiosks' messages keep flowing — against the patron's record or, for an unknown card
   or a card without a PIN, the hasher's dummy record (same cost, so timing reveals nothing);
5. the outcome is written in one transaction: a failure counts against the patron and the
   source; a success resets the patron's count and stores an upgraded hash if the hasher
   produced one. A success with nothing to reset or upgrade writes nothing.

A slowed source waits ``spray_slowdown_seconds`` (in its own connection's task) before the
answer, whatever the answer is, so the delay itself tells nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
from datetime import datetime
from typing import Any, Final, Protocol

import trio
from sqlalchemy import Connection, update

from sip2d.auth import throttle
from sip2d.auth.events import AuthEvent, MetricsSink
from sip2d.auth.hashing import PinHasher, Verification
from sip2d.auth.session_cache import PinSessionCache
from sip2d.config import AuthConfig, ThrottleConfig
from sip2d.storage.models import kiosk_accounts
from sip2d.storage.runner import DatabaseRunner

# Prune old auth_failures rows once per this many recorded failures (per checker).
PRUNE_EVERY: Final = 200


class PinOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NO_PIN = "no_pin"
    UNKNOWN_PATRON = "unknown_patron"
    SOURCE_BLOCKED = "source_blocked"


@dataclasses.dataclass(frozen=True, slots=True)
class PatronPinState:
    """The PIN columns of the patron row the daemon already loaded."""

    id: int
    barcode: str
    pin_hash: str | None = dataclasses.field(repr=False)
    pin_failures: int = 0
    pin_locked_until: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> PatronPinState:
        """Build from any row or object with the ``patrons`` column names."""
        return cls(
            id=int(row.id),
            barcode=str(row.barcode),
            pin_hash=row.pin_hash,
            pin_failures=int(row.pin_failures or 0),
            pin_locked_until=row.pin_locked_until,
        )


class KioskCredentials(Protocol):
    """What :meth:`PinChecker.check_kiosk_login` reads from a ``kiosk_accounts`` row."""

    @property
    def id(self) -> int: ...
    @property
    def password_hash(self) -> str: ...
    @property
    def enabled(self) -> bool: ...


@dataclasses.dataclass(frozen=True, slots=True)
class PinResult:
    outcome: PinOutcome
    screen_message: str = ""
    locked_until: datetime | None = None
    # Seconds the answer was held back because the source is slowed.
    delay: float = 0.0
    # Answered from the session cache without argon2.
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is PinOutcome.OK


MSG_INVALID: Final = "Invalid PIN"
MSG_NO_PIN: Final = "No PIN is set for this card, please ask staff"
MSG_SOURCE_BLOCKED: Final = "Too many failed PIN attempts here, please ask staff"


def locked_message(locked_until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"PIN locked, try again in {minutes} {unit}"


def make_hash_limiter(auth: AuthConfig) -> trio.CapacityLimiter:
    """The limiter for argon2 threads: ``auth.hash_threads``, or one per CPU core when 0."""
    threads = auth.hash_threads if auth.hash_threads > 0 else (os.cpu_count() or 1)
    return trio.CapacityLimiter(threads)


class PinChecker:
    """Checks PINs and kiosk passwords for the daemon. One per process, shared by connections."""

    def __init__(
        self,
        hasher: PinHasher,
        throttle_cfg: ThrottleConfig,
        db: DatabaseRunner,
        hash_limiter: trio.CapacityLimiter,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.hasher = hasher
        self.cfg = throttle_cfg
        self.db = db
        self.hash_limiter = hash_limiter
        self._metrics = metrics
        self._failures_until_prune = PRUNE_EVERY

    def reconfigure(self, throttle_cfg: ThrottleConfig) -> None:
        """Apply new limits (SIGHUP reload); checks already running finish under the old ones."""
        self.cfg = throttle_cfg

    def _count(self, event: AuthEvent) -> None:
        if self._metrics is not None:
            self._metrics(event)

    async def _verify(self, record: str | None, secret: str) -> Verification:
        return await trio.to_thread.run_sync(
            self.hasher.verify, record, secret, limiter=self.hash_limiter
        )

    async def hash(self, secret: str) -> str:
        """A new record for ``secret`` (PIN change, new kiosk password), off the event loop."""
        return await trio.to_thread.run_sync(self.hasher.hash, secret, limiter=self.hash_limiter)

    def _should_prune(self) -> bool:
        self._failures_until_prune -= 1
        if self._failures_until_prune > 0:
            return False
        self._failures_until_prune = PRUNE_EVERY
        return True

    async def check(
        self,
        patron: PatronPinState | None,
        pin: str,
        *,
        account: str,
        address: str,
        now: datetime,
        barcode: str = "",
        cache: PinSessionCache | None = None,
    ) -> PinResult:
        """Check ``pin`` for ``patron`` (None = unknown card, whose ``barcode`` may be given).

        ``account`` is the kiosk login of the connection ("" if none), ``address`` its client
        IP, ``now`` the current naive UTC time. With ``cache``, a PIN already verified in this
        patron session answers without argon2, and a successful check is remembered.
        """
        if patron is not None:
            barcode = patron.barcode
        if cache is not None and patron is not None and cache.matches(barcode, pin, now):
            self._count(AuthEvent.PIN_OK_CACHED)
            return PinResult(PinOutcome.OK, cached=True)
        if cache is not None:
            cache.forget()

        cfg = self.cfg
        source = await self.db.read(
            lambda conn: throttle.source_state(conn, cfg, account=account, address=address, now=now)
        )
        if source.blocked_until is not None and source.blocked_until > now:
            self._count(AuthEvent.PIN_SOURCE_BLOCKED)
            return PinResult(
                PinOutcome.SOURCE_BLOCKED, MSG_SOURCE_BLOCKED, locked_until=source.blocked_until
            )
        if source.delay > 0:
            await trio.sleep(source.delay)

        if patron is not None and throttle.is_locked(patron.pin_locked_until, now):
            assert patron.pin_locked_until is not None
            self._count(AuthEvent.PIN_LOCKED)
            return PinResult(
                PinOutcome.LOCKED,
                locked_message(patron.pin_locked_until, now),
                locked_until=patron.pin_locked_until,
                delay=source.delay,
            )

        record = patron.pin_hash if patron is not None else None
        verification = await self._verify(record, pin)

        if verification.ok and patron is not None:
            return await self._succeed(patron, pin, verification, now, source.delay, cache)
        if patron is None:
            outcome, message, event = (
                PinOutcome.UNKNOWN_PATRON,
                MSG_INVALID,
                AuthEvent.PIN_UNKNOWN_PATRON,
            )
        elif patron.pin_hash is None:
            outcome, message, event = PinOutcome.NO_PIN, MSG_NO_PIN, AuthEvent.PIN_NO_PIN
        else:
            outcome, message, event = PinOutcome.WRONG, MSG_INVALID, AuthEvent.PIN_WRONG
        self._count(event)
        prune = self._should_prune()
        counted_patron = patron if outcome is PinOutcome.WRONG else None

        def record_failure(
            conn: Connection,
        ) -> tuple[throttle.PatronFailure | None, throttle.SprayUpdate]:
            failure = None
            if counted_patron is not None:
                failure = throttle.record_patron_failure(conn, counted_patron.id, cfg, now)
            spray = throttle.record_source_failure(
                conn, cfg, account=account, address=address, patron_barcode=barcode, now=now
            )
            if prune:
                throttle.prune_failures(conn, cfg, now)
            return failure, spray

        failure, spray = await self.db.write(record_failure)
        if spray.newly_slowed:
            self._count(AuthEvent.SPRAY_SLOWED)
        if spray.newly_blocked:
            self._count(AuthEvent.SPRAY_BLOCKED)
        locked_until = None
        if failure is not None and throttle.is_locked(failure.locked_until, now):
            locked_until = failure.locked_until
            assert locked_until is not None
            message = f"{MSG_INVALID}. {locked_message(locked_until, now)}"
            if failure.newly_locked:
                self._count(AuthEvent.PATRON_LOCKED)
        return PinResult(outcome, message, locked_until=locked_until, delay=source.delay)

    async def _succeed(
        self,
        patron: PatronPinState,
        pin: str,
        verification: Verification,
        now: datetime,
        delay: float,
        cache: PinSessionCache | None,
    ) -> PinResult:
        upgraded = verification.upgraded
        if upgraded is not None or patron.pin_failures or patron.pin_locked_until is not None:
            old = patron.pin_hash
            await self.db.write(
                lambda conn: throttle.record_patron_success(
                    conn, patron.id, upgraded=upgraded, old_hash=old
                )
            )
            if upgraded is not None:
                self._count(AuthEvent.HASH_UPGRADED)
        if cache is not None:
            cache.remember(patron.barcode, pin, now)
        self._count(AuthEvent.PIN_OK)
        return PinResult(PinOutcome.OK, delay=delay)

    async def check_kiosk_login(
        self,
        account: KioskCredentials | None,
        password: str,
        *,
        address: str,
        now: datetime,
    ) -> bool:
        """Check a 93 Login password. Unknown or disabled accounts cost the same as wrong ones.

        Refused without verifying while ``address`` is over ``login_failures_per_address``.
        """
        cfg = self.cfg
        blocked = await self.db.read(
            lambda conn: throttle.login_blocked_until(conn, cfg, address=address, now=now)
        )
        if blocked is not None:
            self._count(AuthEvent.LOGIN_BLOCKED)
            return False
        usable = account is not None and account.enabled
        record = account.password_hash if account is not None and usable else None
        verification = await self._verify(record, password)
        if verification.ok and account is not None:
            upgraded = verification.upgraded
            if upgraded is not None:
                account_id, old = account.id, account.password_hash
                await self.db.write(
                    lambda conn: _store_account_hash(conn, account_id, old, upgraded)
                )
                self._count(AuthEvent.HASH_UPGRADED)
            self._count(AuthEvent.LOGIN_OK)
            return True
        self._count(AuthEvent.LOGIN_FAILED)
        until = await self.db.write(
            lambda conn: throttle.record_login_failure(conn, cfg, address=address, now=now)
        )
        if until is not None:
            self._count(AuthEvent.LOGIN_ADDRESS_BLOCKED)
        return False


def _store_account_hash(conn: Connection, account_id: int, old: str, new: str) -> None:
    # Only if unchanged meanwhile: a password reset by staff must win over an upgrade.
    conn.execute(
        update(kiosk_accounts)
        .where(kiosk_accounts.c.id == account_id, kiosk_accounts.c.password_hash == old)
        .values(password_hash=new)
    )
