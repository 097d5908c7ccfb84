"""Online guessing limits, kept in the database so every daemon on one store shares them.

A four-digit PIN falls to 10,000 guesses, so the number of guesses must be bounded where the
guesses arrive: at the kiosks. Three limits, each answering a different attack:

* **per patron** — a stolen card: after ``max_failures`` consecutive wrong PINs the patron is
  locked for ``lockout_minutes`` (or until staff unlock). While locked no PIN is verified at
  all, so a right guess cannot be told from a wrong one. The count survives the end of the lock
  and only a success or staff resets it: after the first ``max_failures`` guesses an attacker
  gets one more guess per lockout window, not another full round.
* **per source** (kiosk account and client address) — a *spray*: one common PIN tried on many
  cards, which never trips a per-patron lock. Failures on distinct cards within
  ``spray_window_minutes`` first slow the source down, then block it for
  ``spray_block_minutes``.
* **per address and login name for 93 Login** — guessing kiosk passwords:
  ``login_failures_per_login`` failures for one login name from one address within
  ``login_block_minutes`` block further logins with that name from there until the oldest of
  them is that old; ``login_failures_per_address`` (a higher ceiling) does the same for every
  login from the address, so failures on unknown names cannot lock out a branch's kiosks.

**Charge first, refund on success.** A limit that is read before a verification and written
after it can be outrun: N guesses sent at the same instant all read "not locked", all run
argon2, and only then count (issue #14 measured 60 of 60 verified). So every attempt is
*charged* before anything is verified, in one transaction that also refuses it when a limit is
already reached: :func:`reserve_pin_attempt` and :func:`reserve_login_attempt`. Only a charged
attempt may be verified, and a verified right one gets its charge back
(:func:`refund_pin_attempt`, :func:`refund_login_attempt`). The count of attempts verified can
therefore never pass a limit, whatever the concurrency:

* the patron's charge is one conditional ``UPDATE ... RETURNING``: the database adds the
  failure and sets the lock in the same statement, and only if the patron is not locked. On
  PostgreSQL a concurrent UPDATE of the row waits for the first and re-checks the condition
  against the row it wrote; on SQLite the write transaction holds the database lock;
* a source's counters are rows in ``auth_failures``, counted and added to under a lock on the
  source (a transaction-scoped advisory lock on PostgreSQL; SQLite's single writer anyway), so
  two daemons cannot both see 29 cards and both add a thirtieth.

Every function here is synchronous and takes a SQLAlchemy Core ``Connection`` inside the
caller's transaction (see :class:`sip2d.storage.runner.DatabaseRunner`), and the current time
``now`` (naive UTC) from the caller, so tests control time. Locks are always taken in the same
order (sources, then the patron row) so two reservations cannot deadlock.

Nothing here sees a PIN; log lines name patrons by database id and sources by account/address.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from sip2d.config import ThrottleConfig
from sip2d.storage.models import auth_failures, patrons
from sip2d.storage.prepared import Prepared

log = logging.getLogger("sip2d.auth")

# auth_failures.scope values. A *_block row marks the moment a spray block began.
SCOPE_ACCOUNT: Final = "account"
SCOPE_ADDRESS: Final = "address"
SCOPE_LOGIN: Final = "login"
SCOPE_LOGIN_NAME: Final = "login_name"
# auth_failures.patron_barcode of a 93 charge whose password is still being verified.
PENDING: Final = "*pending*"
PENDING_SECONDS: Final = 60
BLOCK_SUFFIX: Final = "_block"

Source = tuple[str, str]  # (scope, key)


@dataclasses.dataclass(frozen=True, slots=True)
class PatronCharge:
    """What charging one PIN attempt to a patron found or did.

    ``charged`` attempts may be verified, against ``record`` (the PIN record read in the same
    statement that counted the attempt, so a PIN changed meanwhile is never checked stale).
    """

    charged: bool
    record: str | None = dataclasses.field(default=None, repr=False)
    failures: int = 0
    locked_until: datetime | None = None
    # This attempt's charge set the lock (it is still verified: it was within the limit).
    newly_locked: bool = False
    # Not charged because the patron has no PIN (verified against the dummy record instead).
    no_pin: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class SourceState:
    """How to treat PIN checks from one kiosk account and client address right now."""

    blocked_until: datetime | None = None
    delay: float = 0.0
    # Distinct cards that failed from this source within the spray window (worst of the two).
    failures: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class PinReservation:
    """The outcome of :func:`reserve_pin_attempt`.

    Refused (nothing charged, nothing may be verified) when ``source_blocked_until`` is set or
    ``patron`` is a charge that was not made because the patron is locked.
    """

    source_blocked_until: datetime | None = None
    patron: PatronCharge | None = None
    # Seconds to hold the answer back: the source was already slowed before this attempt.
    delay: float = 0.0
    # auth_failures rows this attempt added; a right PIN deletes them again.
    rows: tuple[int, ...] = ()
    newly_slowed: bool = False
    newly_blocked: bool = False
    # What the refund needs to undo the charge exactly: the sources charged and when.
    sources: tuple[Source, ...] = ()
    at: datetime | None = None

    @property
    def refused(self) -> bool:
        if self.source_blocked_until is not None:
            return True
        return self.patron is not None and not self.patron.charged and not self.patron.no_pin


@dataclasses.dataclass(frozen=True, slots=True)
class LoginReservation:
    """The outcome of :func:`reserve_login_attempt`: refused, or charged as ``rows``."""

    blocked_until: datetime | None = None
    rows: tuple[int, ...] = ()
    # Refused for now: only attempts still being verified would take it over the limit.
    busy: bool = False
    sources: tuple[Source, ...] = ()
    at: datetime | None = None


# Prepared once (sip2d.storage.prepared): every PIN check runs these, and building them per
# call was a fifth of the daemon's CPU in the session benchmark (issue #7).
_f = auth_failures.c
_DISTINCT_FAILURES = Prepared(
    select(func.count(func.distinct(_f.patron_barcode))).where(
        _f.scope == bindparam("scope"), _f.key == bindparam("key"), _f.at > bindparam("since")
    )
)
_FAILED_BEFORE = Prepared(
    select(func.count())
    .select_from(auth_failures)
    .where(
        _f.scope == bindparam("scope"),
        _f.key == bindparam("key"),
        _f.patron_barcode == bindparam("barcode"),
        _f.at > bindparam("since"),
    )
)
_BLOCK_STARTED = Prepared(
    select(func.max(_f.at)).where(
        _f.scope == bindparam("scope"), _f.key == bindparam("key"), _f.at > bindparam("since")
    )
)
_ADD_FAILURE = Prepared(
    insert(auth_failures)
    .values(
        scope=bindparam("scope"),
        key=bindparam("key"),
        patron_barcode=bindparam("patron_barcode"),
        at=bindparam("at"),
    )
    .returning(_f.id)
)
# 93 charges are rows marked pending until their password is verified: a wrong one is then
# settled (a failure), a right one deleted. A pending row older than PENDING_SECONDS belonged to
# a daemon that died mid-check and counts as a failure.
_settled = or_(_f.patron_barcode != PENDING, _f.at <= bindparam("stale_before", type_=DateTime))
_RECENT_FAILURES = Prepared(
    select(_f.at)
    .where(
        _f.scope == bindparam("scope"),
        _f.key == bindparam("key"),
        _f.at > bindparam("since"),
        _settled,
    )
    .order_by(_f.at.desc())
    .limit(bindparam("limit", type_=Integer))
)
# Every 93 charge in the window, settled or still pending, in one snapshot: counted in two
# statements, a charge settling in between would be missed by both.
_CHARGES = Prepared(
    select(func.count())
    .select_from(auth_failures)
    .where(_f.scope == bindparam("scope"), _f.key == bindparam("key"), _f.at > bindparam("since"))
)
# The patron's charge: counted and locked in one statement, only while not locked.
_PATRON_CHARGE = Prepared(
    update(patrons)
    .where(
        patrons.c.id == bindparam("key"),
        patrons.c.pin_hash.is_not(None),
        or_(
            patrons.c.pin_locked_until.is_(None),
            patrons.c.pin_locked_until <= bindparam("now", type_=DateTime),
        ),
    )
    .values(
        pin_failures=patrons.c.pin_failures + 1,
        pin_locked_until=case(
            (
                patrons.c.pin_failures + 1 >= bindparam("max_failures", type_=Integer),
                bindparam("until", type_=DateTime),
            ),
            else_=patrons.c.pin_locked_until,
        ),
    )
    .returning(patrons.c.pin_failures, patrons.c.pin_locked_until, patrons.c.pin_hash)
)
_PATRON_PIN_STATE = Prepared(
    select(patrons.c.pin_hash, patrons.c.pin_locked_until, patrons.c.pin_failures).where(
        patrons.c.id == bindparam("key")
    )
)
# A right PIN takes back its own charge and every failure counted before it ("consecutive"
# failures end with a success), but not the failures other attempts charged after it; the lock
# stays only if those alone reach the limit.
_charged = bindparam("charged", type_=Integer)
_PATRON_REFUND = Prepared(
    update(patrons)
    .where(patrons.c.id == bindparam("key"))
    .values(
        pin_failures=case(
            (patrons.c.pin_failures > _charged, patrons.c.pin_failures - _charged), else_=0
        ),
        pin_locked_until=case(
            (
                patrons.c.pin_failures - _charged >= bindparam("max_failures", type_=Integer),
                patrons.c.pin_locked_until,
            ),
            else_=None,
        ),
    )
)
# PostgreSQL: serialise the charges of one source across transactions and daemons.
_SOURCE_LOCK = Prepared(select(func.pg_advisory_xact_lock(func.hashtext(bindparam("lock")))))


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


# --- per patron ---------------------------------------------------------------------------


def charge_patron(
    conn: Connection, patron_id: int, cfg: ThrottleConfig, now: datetime
) -> PatronCharge | None:
    """Count one PIN attempt against ``patron_id`` unless the patron is locked or has no PIN.

    Returns None when no such patron exists (any more). A charge that reaches
    ``max_failures`` locks the patron in the same statement.
    """
    until = now + timedelta(minutes=cfg.lockout_minutes)
    row = _PATRON_CHARGE.first(
        conn, {"key": patron_id, "now": now, "max_failures": cfg.max_failures, "until": until}
    )
    if row is not None:
        failures, locked_until, record = int(row[0]), row[1], row[2]
        newly_locked = failures >= cfg.max_failures and locked_until == until
        if newly_locked:
            log.warning(
                "patron id %s locked until %s after %d consecutive PIN failures",
                patron_id,
                locked_until.isoformat(sep=" ", timespec="seconds"),
                failures,
            )
        return PatronCharge(True, record, failures, locked_until, newly_locked)
    state = _PATRON_PIN_STATE.first(conn, {"key": patron_id})
    if state is None:
        return None
    record, locked_until, failures = state[0], state[1], int(state[2] or 0)
    if record is None:
        return PatronCharge(False, None, failures, locked_until, no_pin=True)
    # Not charged although it has a PIN: the statement's condition saw it locked.
    return PatronCharge(False, None, failures, locked_until)


def refund_patron_charge(
    conn: Connection,
    patron_id: int,
    *,
    charged: int,
    max_failures: int,
    upgraded: str | None = None,
    old_hash: str | None = None,
) -> None:
    """A right PIN whose charge made the count ``charged``: take back that many failures
    (its own and those before it), keep the ones charged since by other attempts, and lift the
    lock unless those reach ``max_failures``; store ``upgraded`` in place of ``old_hash``.

    The new record is written only if the stored one is still ``old_hash``, so a PIN changed
    by staff in the meantime is never overwritten by the upgrade of the previous one.
    """
    _PATRON_REFUND.run(conn, {"key": patron_id, "charged": charged, "max_failures": max_failures})
    if upgraded is not None and old_hash is not None:
        conn.execute(
            update(patrons)
            .where(patrons.c.id == patron_id, patrons.c.pin_hash == old_hash)
            .values(pin_hash=upgraded)
        )


def unlock_patron(conn: Connection, barcode: str) -> bool:
    """Staff unlock: clear the lock and the failure count. False when no such patron."""
    result = conn.execute(
        update(patrons)
        .where(patrons.c.barcode == barcode)
        .values(pin_failures=0, pin_locked_until=None)
        .returning(patrons.c.id)
    ).one_or_none()
    return result is not None


# --- per source (PIN sprays) ----------------------------------------------------------------


def source_keys(account: str, address: str) -> list[Source]:
    """The sources one PIN attempt counts against, in the order their locks are taken."""
    keys = []
    if account:
        keys.append((SCOPE_ACCOUNT, account))
    if address:
        keys.append((SCOPE_ADDRESS, address))
    return keys


def _lock_sources(conn: Connection, keys: Sequence[Source]) -> None:
    if conn.dialect.name != "postgresql":
        return  # SQLite: the write transaction already holds the only write lock.
    for scope, key in keys:
        _SOURCE_LOCK.scalar(conn, {"lock": f"sip2d:{scope}:{key}"})


def _distinct_failures(conn: Connection, scope: str, key: str, since: datetime) -> int:
    return int(_DISTINCT_FAILURES.scalar(conn, {"scope": scope, "key": key, "since": since}))


def _block_started(conn: Connection, scope: str, key: str, since: datetime) -> datetime | None:
    started: datetime | None = _BLOCK_STARTED.scalar(
        conn, {"scope": scope + BLOCK_SUFFIX, "key": key, "since": since}
    )
    return started


def _blocked_until(
    conn: Connection, cfg: ThrottleConfig, keys: Sequence[Source], now: datetime
) -> datetime | None:
    block_span = timedelta(minutes=cfg.spray_block_minutes)
    blocked_until: datetime | None = None
    for scope, key in keys:
        started = _block_started(conn, scope, key, now - block_span)
        if started is not None and (blocked_until is None or started + block_span > blocked_until):
            blocked_until = started + block_span
    return blocked_until if blocked_until is not None and blocked_until > now else None


def source_state(
    conn: Connection, cfg: ThrottleConfig, *, account: str, address: str, now: datetime
) -> SourceState:
    """Whether PIN checks from this kiosk account / address are blocked or slowed now (a read,
    for status displays; the gate decides inside :func:`reserve_pin_attempt`)."""
    keys = source_keys(account, address)
    window_start = now - timedelta(minutes=cfg.spray_window_minutes)
    worst = max((_distinct_failures(conn, s, k, window_start) for s, k in keys), default=0)
    delay = cfg.spray_slowdown_seconds if worst >= cfg.spray_slowdown_after else 0.0
    return SourceState(_blocked_until(conn, cfg, keys, now), delay, worst)


@dataclasses.dataclass(frozen=True, slots=True)
class _SourceCharge:
    rows: tuple[int, ...]
    delay: float
    newly_slowed: bool
    newly_blocked: bool


def _charge_sources(
    conn: Connection, cfg: ThrottleConfig, keys: Sequence[Source], barcode: str, now: datetime
) -> _SourceCharge:
    """Count one attempt on ``barcode`` against each source (their locks already held).

    Reaching ``spray_block_after`` distinct cards inserts a block marker row, which
    :func:`_blocked_until` reads; the block lasts ``spray_block_minutes`` from that moment.
    """
    window_start = now - timedelta(minutes=cfg.spray_window_minutes)
    rows: list[int] = []
    worst_before = 0
    newly_slowed = newly_blocked = False
    for scope, key in keys:
        before = _distinct_failures(conn, scope, key, window_start)
        worst_before = max(worst_before, before)
        seen = _FAILED_BEFORE.scalar(
            conn, {"scope": scope, "key": key, "barcode": barcode, "since": window_start}
        )
        after = before if seen else before + 1
        rows.append(
            _ADD_FAILURE.scalar(
                conn, {"scope": scope, "key": key, "patron_barcode": barcode, "at": now}
            )
        )
        if before < cfg.spray_slowdown_after <= after:
            newly_slowed = True
            log.warning(
                "PIN failures on %d cards in %g minutes from %s %s: slowing answers by %gs",
                after,
                cfg.spray_window_minutes,
                scope,
                key,
                cfg.spray_slowdown_seconds,
            )
        if after >= cfg.spray_block_after:
            rows.append(
                _ADD_FAILURE.scalar(
                    conn,
                    {"scope": scope + BLOCK_SUFFIX, "key": key, "patron_barcode": "", "at": now},
                )
            )
            newly_blocked = True
            log.warning(
                "PIN failures on %d cards in %g minutes from %s %s: refusing PIN checks "
                "for %g minutes",
                after,
                cfg.spray_window_minutes,
                scope,
                key,
                cfg.spray_block_minutes,
            )
    delay = cfg.spray_slowdown_seconds if worst_before >= cfg.spray_slowdown_after else 0.0
    return _SourceCharge(tuple(rows), delay, newly_slowed, newly_blocked)


def reserve_pin_attempt(
    conn: Connection,
    cfg: ThrottleConfig,
    *,
    patron_id: int | None,
    barcode: str,
    account: str,
    address: str,
    now: datetime,
) -> PinReservation:
    """Charge one PIN attempt before it is verified, or refuse it; one transaction.

    Refused, with nothing written, when a source is blocked or the patron is locked. Otherwise
    the attempt counts against the patron (if known and with a PIN) and against every source,
    as if it were wrong; :func:`refund_pin_attempt` gives the charge back when it is right.
    """
    keys = source_keys(account, address)
    _lock_sources(conn, keys)
    blocked_until = _blocked_until(conn, cfg, keys, now)
    if blocked_until is not None:
        return PinReservation(source_blocked_until=blocked_until)
    patron = charge_patron(conn, patron_id, cfg, now) if patron_id is not None else None
    if patron is not None and not patron.charged and not patron.no_pin:
        return PinReservation(patron=patron)
    source = _charge_sources(conn, cfg, keys, barcode, now)
    return PinReservation(
        patron=patron,
        delay=source.delay,
        rows=source.rows,
        newly_slowed=source.newly_slowed,
        newly_blocked=source.newly_blocked,
        sources=tuple(keys),
        at=now,
    )


def _delete_rows(conn: Connection, rows: Sequence[int]) -> None:
    if rows:
        conn.execute(delete(auth_failures).where(auth_failures.c.id.in_(rows)))


def _withdraw_blocks(
    conn: Connection, cfg: ThrottleConfig, reservation: PinReservation, first_row: int
) -> None:
    """Remove spray blocks that were reached only by counting this (right) attempt.

    A pending attempt counts as a failure, so a block may start while right PINs are still
    being verified. A block marker made after this attempt's charge (a larger id) counted it;
    if the source's failures, without it, are below the limit, that block was never earned.
    """
    if reservation.at is None:
        return
    window_start = reservation.at - timedelta(minutes=cfg.spray_window_minutes)
    for scope, key in reservation.sources:
        if _distinct_failures(conn, scope, key, window_start) < cfg.spray_block_after:
            conn.execute(
                delete(auth_failures).where(
                    auth_failures.c.scope == scope + BLOCK_SUFFIX,
                    auth_failures.c.key == key,
                    auth_failures.c.id > first_row,
                )
            )


def refund_pin_attempt(
    conn: Connection,
    cfg: ThrottleConfig,
    reservation: PinReservation,
    patron_id: int,
    *,
    upgraded: str | None = None,
    old_hash: str | None = None,
) -> None:
    """A verified right PIN: undo the attempt's charges (and store an upgraded record).

    Under the sources' locks, taken first as in :func:`reserve_pin_attempt`, so a block another
    attempt earns meanwhile is never withdrawn by mistake and the two cannot deadlock.
    """
    _lock_sources(conn, reservation.sources)
    charge = reservation.patron
    if charge is not None and charge.charged:
        refund_patron_charge(
            conn,
            patron_id,
            charged=charge.failures,
            max_failures=cfg.max_failures,
            upgraded=upgraded,
            old_hash=old_hash,
        )
    if reservation.rows:
        _delete_rows(conn, reservation.rows)
        _withdraw_blocks(conn, cfg, reservation, min(reservation.rows))


# --- 93 Login: per address and login name, and a ceiling per address ---------------------------


def login_sources(address: str, login_tag: str) -> list[Source]:
    """What a 93 attempt counts against: the address (a ceiling for the whole address, high
    enough that one NAT'd branch full of kiosks is not locked out by a few typos) and the
    address with the login name (the real limit on guessing one account's password).

    ``login_tag`` is a keyed digest of the login name, never the name: people type passwords
    into the login field, and these keys are stored.
    """
    keys = [(SCOPE_LOGIN, address)]
    if login_tag:
        keys.append((SCOPE_LOGIN_NAME, f"{address} {login_tag}"))
    return keys


def _limits(cfg: ThrottleConfig, scope: str) -> int:
    if scope == SCOPE_LOGIN:
        return cfg.login_failures_per_address
    return cfg.login_failures_per_login


def _recent_block(
    conn: Connection, scope: str, key: str, limit: int, span: timedelta, now: datetime
) -> datetime | None:
    """Blocked while ``limit`` failures lie within the last ``span``; the block ends when the
    oldest of the newest ``limit`` is that old."""
    if limit < 1:
        return None
    params = {
        "scope": scope,
        "key": key,
        "since": now - span,
        "limit": limit,
        "stale_before": now - timedelta(seconds=PENDING_SECONDS),
    }
    recent = [row[0] for row in _RECENT_FAILURES.all(conn, params)]
    if len(recent) < limit:
        return None
    oldest: datetime = recent[-1]
    return oldest + span


def login_blocked_until(
    conn: Connection, cfg: ThrottleConfig, *, address: str, now: datetime, login_tag: str = ""
) -> datetime | None:
    """When 93 logins from ``address`` (for the login whose tag is ``login_tag``) are
    accepted again, or None when they are now.

    Attempts refused during a block are not counted, so the block cannot be prolonged by a
    client that keeps trying; it simply ends.
    """
    span = timedelta(minutes=cfg.login_block_minutes)
    ends = [
        until
        for scope, key in login_sources(address, login_tag)
        if (until := _recent_block(conn, scope, key, _limits(cfg, scope), span, now)) is not None
    ]
    return max(ends, default=None)


def reserve_login_attempt(
    conn: Connection, cfg: ThrottleConfig, *, address: str, now: datetime, login_tag: str = ""
) -> LoginReservation:
    """Charge one 93 login attempt before its password is verified, or refuse it.

    Refused (``blocked_until``) while the failures of the address, or of the address for this
    login, reach their limit. Refused as ``busy`` when only the attempts still being verified
    would take it over the limit: those are mostly right passwords (a branch's kiosks logging
    in together after a restart), so the caller waits for them to settle and asks again rather
    than turning a right password away. Nothing is written when refused.
    """
    keys = login_sources(address, login_tag)
    _lock_sources(conn, keys)
    blocked = login_blocked_until(conn, cfg, address=address, now=now, login_tag=login_tag)
    if blocked is not None:
        return LoginReservation(blocked_until=blocked)
    since = now - timedelta(minutes=cfg.login_block_minutes)
    for scope, key in keys:
        limit = _limits(cfg, scope)
        charges = _CHARGES.scalar(conn, {"scope": scope, "key": key, "since": since})
        if limit >= 1 and int(charges) >= limit:
            return LoginReservation(busy=True)
    rows = tuple(
        int(_ADD_FAILURE.scalar(conn, {"scope": s, "key": k, "patron_barcode": PENDING, "at": now}))
        for s, k in keys
    )
    return LoginReservation(rows=rows, sources=tuple(keys), at=now)


def settle_login_failure(
    conn: Connection, cfg: ThrottleConfig, reservation: LoginReservation
) -> bool:
    """A wrong password: its charge becomes a failure. True when that starts a block."""
    if not reservation.rows or reservation.at is None:
        return False
    conn.execute(
        update(auth_failures)
        .where(auth_failures.c.id.in_(reservation.rows))
        .values(patron_barcode="")
    )
    now = reservation.at
    span = timedelta(minutes=cfg.login_block_minutes)
    started = False
    for scope, key in reservation.sources:
        limit = _limits(cfg, scope)
        ends = _recent_block(conn, scope, key, limit, span, now)
        if ends is None:
            continue
        started = True
        log.warning(
            "93 login failures from %s%s reached %d: refusing logins %s until %s",
            key.split(" ", 1)[0],
            "" if scope == SCOPE_LOGIN else " for one login name",
            limit,
            "from it" if scope == SCOPE_LOGIN else "with that name from it",
            ends.isoformat(sep=" ", timespec="seconds"),
        )
    return started


def refund_login_attempt(conn: Connection, reservation: LoginReservation) -> None:
    """A right password: the attempt's charge is taken back."""
    _delete_rows(conn, reservation.rows)


# --- per source, for requests that are not PIN guesses (the self-service page) ---------------


def charge_request(
    conn: Connection, scope: str, key: str, *, limit: int, window: timedelta, now: datetime
) -> bool:
    """Count one request from ``key`` under ``scope``; False (nothing counted) when ``limit``
    requests already lie within ``window``.

    For the PIN page's mail requests and set-up code failures: the same table, locks and
    pruning as the PIN limits, so every daemon on one store shares them. ``window`` must not
    exceed :func:`retention`, or rows would be pruned while still counted.
    """
    _lock_sources(conn, [(scope, key)])
    count = _CHARGES.scalar(conn, {"scope": scope, "key": key, "since": now - window})
    if int(count) >= limit:
        return False
    _ADD_FAILURE.scalar(conn, {"scope": scope, "key": key, "patron_barcode": "", "at": now})
    return True


def requests_within(
    conn: Connection, scope: str, key: str, *, window: timedelta, now: datetime
) -> int:
    """How many requests :func:`charge_request` counted for ``key`` within ``window``."""
    return int(_CHARGES.scalar(conn, {"scope": scope, "key": key, "since": now - window}))


# --- housekeeping -------------------------------------------------------------------------------


def retention(cfg: ThrottleConfig) -> timedelta:
    """How long an auth_failures row can still matter to any limit."""
    minutes = max(cfg.spray_window_minutes, cfg.spray_block_minutes, cfg.login_block_minutes)
    return timedelta(minutes=minutes)


def prune_failures(conn: Connection, cfg: ThrottleConfig, now: datetime) -> int:
    """Delete rows no limit can look at any more; returns how many were deleted."""
    result = conn.execute(delete(auth_failures).where(auth_failures.c.at < now - retention(cfg)))
    return int(result.rowcount)
