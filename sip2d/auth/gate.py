"""The PIN gate: the one way any message, from any handler, gets a patron PIN checked.

Everything that decides what happens to one presented PIN, and in which order, is here, so no
handler can get the order wrong or skip a step:

1. a PIN already verified in this patron session (:class:`PinSessionCache`) answers at once,
   but only while the patron's stored PIN record is the one it was verified against (a PIN
   change ends every cached verification on every connection);
2. the attempt is **charged before it is verified** (:func:`throttle.reserve_pin_attempt`): one
   transaction counts it against the patron and against the source (kiosk account, client
   address) as if it were wrong, or refuses it without charging when the patron is locked or
   the source blocked. A refused attempt is answered without running argon2, so a right guess
   looks exactly like a wrong one. Because the charge and the check are one atomic step in the
   database, the number of PINs verified for a patron between two successes can never pass
   ``max_failures``, however many connections, kiosk accounts, addresses or daemons send at
   once; every attempt beyond it is answered "PIN locked" without verification;
3. a slowed source waits ``spray_slowdown_seconds`` (in its own connection's task);
4. the PIN is verified in a worker thread behind the hashing limiter — argon2 never runs on the
   event loop — against the record read by the charge or, for an unknown card or a card
   without a PIN, the hasher's dummy record (same cost, so timing reveals nothing);
5. a right PIN gets its charge back in one transaction (count reset, source rows removed, an
   upgraded hash stored); a wrong one has already been counted, so nothing more is written.

93 Login passwords go through the same charge-first step against the client address and the
address with the login name (:meth:`PinGate.check_kiosk_login`); a wrong one is then settled
as a failure, a right one refunded.
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

# Prune old auth_failures rows once per this many charged attempts (per gate).
PRUNE_EVERY: Final = 200
# A 93 that only logins still being verified keep from its charge asks again this often, for
# at most this long, before it is refused as blocked.
LOGIN_BUSY_STEP: Final = 0.05
LOGIN_BUSY_SECONDS: Final = 10.0


class PinOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NO_PIN = "no_pin"
    UNKNOWN_PATRON = "unknown_patron"
    SOURCE_BLOCKED = "source_blocked"


class LoginCheck(enum.Enum):
    """What became of one 93 Login password."""

    OK = "ok"
    # Verified and wrong, or an unknown/disabled account (indistinguishable on purpose).
    REFUSED = "bad_credentials"
    # Not verified: the client address is over its limit of failed logins.
    BLOCKED = "address_blocked"


@dataclasses.dataclass(frozen=True, slots=True)
class PatronPinState:
    """The PIN columns of the patron row the caller already loaded."""

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
    """What :meth:`PinGate.check_kiosk_login` reads from a ``kiosk_accounts`` row."""

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


class PinGate:
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
        self._charges_until_prune = PRUNE_EVERY

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
        self._charges_until_prune -= 1
        if self._charges_until_prune > 0:
            return False
        self._charges_until_prune = PRUNE_EVERY
        return True

    @staticmethod
    def remembered(
        patron: PatronPinState | None, cache: PinSessionCache | None, now: datetime
    ) -> bool:
        """Whether this patron session already verified ``patron``'s current PIN (no PIN sent:
        ``session.checkout_pin = "session"``)."""
        if patron is None or cache is None:
            return False
        return cache.holds(patron.barcode, patron.pin_hash, now)

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
            if cache is not None and cache.matches(barcode, pin, patron.pin_hash, now):
                self._count(AuthEvent.PIN_OK_CACHED)
                return PinResult(PinOutcome.OK, cached=True)
        if cache is not None:
            cache.forget()

        cfg = self.cfg
        patron_id = patron.id if patron is not None else None
        prune = self._should_prune()

        def reserve(conn: Connection) -> throttle.PinReservation:
            reservation = throttle.reserve_pin_attempt(
                conn,
                cfg,
                patron_id=patron_id,
                barcode=barcode,
                account=account,
                address=address,
                now=now,
            )
            if prune:
                throttle.prune_failures(conn, cfg, now)
            return reservation

        reservation = await self.db.write(reserve)
        if reservation.source_blocked_until is not None:
            self._count(AuthEvent.PIN_SOURCE_BLOCKED)
            return PinResult(
                PinOutcome.SOURCE_BLOCKED,
                MSG_SOURCE_BLOCKED,
                locked_until=reservation.source_blocked_until,
            )
        charge = reservation.patron
        if charge is not None and reservation.refused:
            self._count(AuthEvent.PIN_LOCKED)
            until = charge.locked_until
            assert until is not None
            return PinResult(PinOutcome.LOCKED, locked_message(until, now), locked_until=until)
        if reservation.newly_slowed:
            self._count(AuthEvent.SPRAY_SLOWED)
        if reservation.newly_blocked:
            self._count(AuthEvent.SPRAY_BLOCKED)
        if reservation.delay > 0:
            await trio.sleep(reservation.delay)

        record = charge.record if charge is not None and charge.charged else None
        verification = await self._verify(record, pin)
        if verification.ok and charge is not None and record is not None:
            assert patron_id is not None
            return await self._succeed(
                patron_id, barcode, pin, record, verification, reservation, now, cache
            )
        return self._failed(charge, reservation, now)

    def _failed(
        self,
        charge: throttle.PatronCharge | None,
        reservation: throttle.PinReservation,
        now: datetime,
    ) -> PinResult:
        """A wrong PIN, an unknown card or a card without PIN: already counted by the charge."""
        if charge is None:
            outcome, message, event = (
                PinOutcome.UNKNOWN_PATRON,
                MSG_INVALID,
                AuthEvent.PIN_UNKNOWN_PATRON,
            )
        elif charge.no_pin:
            outcome, message, event = PinOutcome.NO_PIN, MSG_NO_PIN, AuthEvent.PIN_NO_PIN
        else:
            outcome, message, event = PinOutcome.WRONG, MSG_INVALID, AuthEvent.PIN_WRONG
        self._count(event)
        locked_until = None
        if outcome is PinOutcome.WRONG and charge is not None:
            if throttle.is_locked(charge.locked_until, now):
                locked_until = charge.locked_until
                assert locked_until is not None
                message = f"{MSG_INVALID}. {locked_message(locked_until, now)}"
            if charge.newly_locked:
                self._count(AuthEvent.PATRON_LOCKED)
        return PinResult(outcome, message, locked_until=locked_until, delay=reservation.delay)

    async def _succeed(
        self,
        patron_id: int,
        barcode: str,
        pin: str,
        record: str,
        verification: Verification,
        reservation: throttle.PinReservation,
        now: datetime,
        cache: PinSessionCache | None,
    ) -> PinResult:
        upgraded = verification.upgraded
        cfg = self.cfg
        await self.db.write(
            lambda conn: throttle.refund_pin_attempt(
                conn, cfg, reservation, patron_id, upgraded=upgraded, old_hash=record
            )
        )
        if upgraded is not None:
            self._count(AuthEvent.HASH_UPGRADED)
        if cache is not None:
            cache.remember(barcode, pin, upgraded or record, now)
        self._count(AuthEvent.PIN_OK)
        return PinResult(PinOutcome.OK, delay=reservation.delay)

    def fingerprint(self, text: str) -> str:
        """What a log line may say of a value that may be a secret typed in the wrong place
        (a refused 93's login name): its length and a short keyed digest, enough for staff to
        see that two attempts used the same value, useless for guessing it."""
        return f"len={len(text)} tag={self.hasher.tag(text, 'log')[:8]}"

    async def check_kiosk_login(
        self,
        account: KioskCredentials | None,
        password: str,
        *,
        login: str,
        address: str,
        now: datetime,
    ) -> LoginCheck:
        """Check a 93 Login password. Unknown or disabled accounts cost the same as wrong ones.

        Charged against ``address`` and against ``address`` with the ``login`` name before
        verification, and refused without verifying while either is over its limit. When only
        logins still being verified would take it over (kiosks logging in together), this one
        waits for them, up to ``LOGIN_BUSY_SECONDS``, instead of being turned away.
        """
        cfg = self.cfg
        tag = self.hasher.tag(login, "login")
        waited = 0.0
        while True:
            reservation = await self.db.write(
                lambda conn: throttle.reserve_login_attempt(
                    conn, cfg, address=address, now=now, login_tag=tag
                )
            )
            if not reservation.busy or waited >= LOGIN_BUSY_SECONDS:
                break
            await trio.sleep(LOGIN_BUSY_STEP)
            waited += LOGIN_BUSY_STEP
        if reservation.blocked_until is not None or reservation.busy:
            self._count(AuthEvent.LOGIN_BLOCKED)
            return LoginCheck.BLOCKED
        usable = account is not None and account.enabled
        record = account.password_hash if account is not None and usable else None
        verification = await self._verify(record, password)
        if not (verification.ok and account is not None and record is not None):
            self._count(AuthEvent.LOGIN_FAILED)
            if await self.db.write(
                lambda conn: throttle.settle_login_failure(conn, cfg, reservation)
            ):
                self._count(AuthEvent.LOGIN_ADDRESS_BLOCKED)
            return LoginCheck.REFUSED
        upgraded = verification.upgraded
        account_id = account.id

        def refund(conn: Connection) -> None:
            throttle.refund_login_attempt(conn, reservation)
            if upgraded is not None:
                _store_account_hash(conn, account_id, record, upgraded)

        await self.db.write(refund)
        if upgraded is not None:
            self._count(AuthEvent.HASH_UPGRADED)
        self._count(AuthEvent.LOGIN_OK)
        return LoginCheck.OK


def _store_account_hash(conn: Connection, account_id: int, old: str, new: str) -> None:
    # Only if unchanged meanwhile: a password reset by staff must win over an upgrade.
    conn.execute(
        update(kiosk_accounts)
        .where(kiosk_accounts.c.id == account_id, kiosk_accounts.c.password_hash == old)
        .values(password_hash=new)
    )
