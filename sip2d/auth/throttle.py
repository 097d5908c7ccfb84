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
* **per address for 93 Login** — guessing kiosk passwords: ``login_failures_per_address``
  failures within ``login_block_minutes`` block further logins from that address until the
  oldest of them is that old.

Every function here is synchronous and takes a SQLAlchemy Core ``Connection`` inside the
caller's transaction (see :class:`sip2d.storage.runner.DatabaseRunner`), and the current time
``now`` (naive UTC) from the caller, so tests control time and one unit of work can combine
several steps. Counters are changed by single ``UPDATE ... RETURNING`` statements whose new
value is computed by the database from the old one, so two daemons failing at the same moment
both count on SQLite (the write transaction holds the database lock) and on PostgreSQL (the
second UPDATE waits for the first row lock and re-reads the row).

Nothing here sees a PIN; log lines name patrons by database id and sources by account/address.
"""

from __future__ import annotations

import dataclasses
import logging
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
BLOCK_SUFFIX: Final = "_block"


@dataclasses.dataclass(frozen=True, slots=True)
class PatronFailure:
    """A patron's failure count after one more wrong PIN, and the lock it caused (if any)."""

    failures: int
    locked_until: datetime | None
    newly_locked: bool


@dataclasses.dataclass(frozen=True, slots=True)
class SourceState:
    """How to treat PIN checks from one kiosk account and client address right now."""

    blocked_until: datetime | None = None
    delay: float = 0.0
    # Distinct cards that failed from this source within the spray window (worst of the two).
    failures: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class SprayUpdate:
    """What recording one failure did to the source's state."""

    failures: int
    slowed: bool
    newly_slowed: bool
    newly_blocked: bool
    blocked_until: datetime | None


# Prepared once (sip2d.storage.prepared): every PIN check reads the source state, and building
# these per call was a fifth of the daemon's CPU in the session benchmark (issue #7).
_f = auth_failures.c
_DISTINCT_FAILURES = Prepared(
    select(func.count(func.distinct(_f.patron_barcode))).where(
        _f.scope == bindparam("scope"), _f.key == bindparam("key"), _f.at > bindparam("since")
    )
)
_BLOCK_STARTED = Prepared(
    select(func.max(_f.at)).where(
        _f.scope == bindparam("scope"), _f.key == bindparam("key"), _f.at > bindparam("since")
    )
)
_ADD_FAILURE = Prepared(
    insert(auth_failures).values(
        scope=bindparam("scope"),
        key=bindparam("key"),
        patron_barcode=bindparam("patron_barcode"),
        at=bindparam("at"),
    )
)
_RECENT_LOGIN_FAILURES = Prepared(
    select(_f.at)
    .where(_f.scope == SCOPE_LOGIN, _f.key == bindparam("key"), _f.at > bindparam("since"))
    .order_by(_f.at.desc())
    .limit(bindparam("limit", type_=Integer))
)
_PATRON_FAILED = Prepared(
    update(patrons)
    .where(patrons.c.id == bindparam("key"))
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
    .returning(patrons.c.pin_failures, patrons.c.pin_locked_until)
)
_PATRON_SUCCEEDED = Prepared(
    update(patrons)
    .where(patrons.c.id == bindparam("key"))
    .values(pin_failures=0, pin_locked_until=None)
)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


# --- per patron ---------------------------------------------------------------------------


def record_patron_failure(
    conn: Connection, patron_id: int, cfg: ThrottleConfig, now: datetime
) -> PatronFailure:
    """Count one wrong PIN for ``patron_id``; lock the patron when the count reaches the limit.

    One statement: the database computes the new count from the stored one, so concurrent
    failures from several daemons are all counted.
    """
    until = now + timedelta(minutes=cfg.lockout_minutes)
    row = _PATRON_FAILED.first(
        conn, {"key": patron_id, "max_failures": cfg.max_failures, "until": until}
    )
    if row is None:
        return PatronFailure(failures=0, locked_until=None, newly_locked=False)
    failures, locked_until = int(row[0]), row[1]
    newly_locked = failures >= cfg.max_failures and locked_until == until
    if newly_locked:
        log.warning(
            "patron id %s locked until %s after %d consecutive PIN failures",
            patron_id,
            locked_until.isoformat(sep=" ", timespec="seconds"),
            failures,
        )
    return PatronFailure(failures, locked_until, newly_locked)


def record_patron_success(
    conn: Connection,
    patron_id: int,
    *,
    upgraded: str | None = None,
    old_hash: str | None = None,
) -> None:
    """Reset the failure count and lock; store ``upgraded`` in place of ``old_hash``.

    The new record is written only if the stored one is still ``old_hash``, so a PIN changed
    by staff in the meantime is never overwritten by the upgrade of the previous one.
    """
    _PATRON_SUCCEEDED.run(conn, {"key": patron_id})
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


def _source_keys(account: str, address: str) -> list[tuple[str, str]]:
    keys = []
    if account:
        keys.append((SCOPE_ACCOUNT, account))
    if address:
        keys.append((SCOPE_ADDRESS, address))
    return keys


def _distinct_failures(conn: Connection, scope: str, key: str, since: datetime) -> int:
    return int(_DISTINCT_FAILURES.scalar(conn, {"scope": scope, "key": key, "since": since}))


def _block_started(conn: Connection, scope: str, key: str, since: datetime) -> datetime | None:
    started: datetime | None = _BLOCK_STARTED.scalar(
        conn, {"scope": scope + BLOCK_SUFFIX, "key": key, "since": since}
    )
    return started


def source_state(
    conn: Connection, cfg: ThrottleConfig, *, account: str, address: str, now: datetime
) -> SourceState:
    """Whether PIN checks from this kiosk account / address are blocked or slowed now."""
    window_start = now - timedelta(minutes=cfg.spray_window_minutes)
    block_span = timedelta(minutes=cfg.spray_block_minutes)
    blocked_until: datetime | None = None
    worst = 0
    for scope, key in _source_keys(account, address):
        started = _block_started(conn, scope, key, now - block_span)
        if started is not None and (blocked_until is None or started + block_span > blocked_until):
            blocked_until = started + block_span
        worst = max(worst, _distinct_failures(conn, scope, key, window_start))
    delay = cfg.spray_slowdown_seconds if worst >= cfg.spray_slowdown_after else 0.0
    return SourceState(blocked_until=blocked_until, delay=delay, failures=worst)


def record_source_failure(
    conn: Connection,
    cfg: ThrottleConfig,
    *,
    account: str,
    address: str,
    patron_barcode: str,
    now: datetime,
) -> SprayUpdate:
    """Count one failed PIN check against the kiosk account and the client address.

    Crossing ``spray_block_after`` distinct cards inserts a block marker row, which is what
    :func:`source_state` reads; the block therefore lasts ``spray_block_minutes`` from that
    moment whatever the failures do afterwards.
    """
    window_start = now - timedelta(minutes=cfg.spray_window_minutes)
    block_span = timedelta(minutes=cfg.spray_block_minutes)
    worst = 0
    newly_slowed = newly_blocked = False
    blocked_until: datetime | None = None
    for scope, key in _source_keys(account, address):
        before = _distinct_failures(conn, scope, key, window_start)
        _ADD_FAILURE.run(
            conn, {"scope": scope, "key": key, "patron_barcode": patron_barcode, "at": now}
        )
        after = _distinct_failures(conn, scope, key, window_start)
        worst = max(worst, after)
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
        if (
            after >= cfg.spray_block_after
            and _block_started(conn, scope, key, now - block_span) is None
        ):
            conn.execute(insert(auth_failures).values(scope=scope + BLOCK_SUFFIX, key=key, at=now))
            newly_blocked = True
            blocked_until = now + block_span
            log.warning(
                "PIN failures on %d cards in %g minutes from %s %s: refusing PIN checks "
                "for %g minutes",
                after,
                cfg.spray_window_minutes,
                scope,
                key,
                cfg.spray_block_minutes,
            )
    return SprayUpdate(
        failures=worst,
        slowed=worst >= cfg.spray_slowdown_after,
        newly_slowed=newly_slowed,
        newly_blocked=newly_blocked,
        blocked_until=blocked_until,
    )


# --- per address for 93 Login -----------------------------------------------------------------


def login_blocked_until(
    conn: Connection, cfg: ThrottleConfig, *, address: str, now: datetime
) -> datetime | None:
    """When 93 logins from ``address`` are accepted again, or None when they are now.

    Blocked while ``login_failures_per_address`` failures lie within the last
    ``login_block_minutes``; the block ends when the oldest of the newest N is that old.
    Attempts refused during a block are not counted, so the block cannot be prolonged by a
    client that keeps trying; it simply ends.
    """
    limit = cfg.login_failures_per_address
    span = timedelta(minutes=cfg.login_block_minutes)
    if limit < 1:
        return None
    recent = [
        row[0]
        for row in _RECENT_LOGIN_FAILURES.all(
            conn, {"key": address, "since": now - span, "limit": limit}
        )
    ]
    if len(recent) < limit:
        return None
    oldest: datetime = recent[-1]
    return oldest + span


def record_login_failure(
    conn: Connection, cfg: ThrottleConfig, *, address: str, now: datetime
) -> datetime | None:
    """Count one failed 93 login from ``address``; return the block it started, if any.

    The login name is not logged: people type passwords into the wrong field.
    """
    conn.execute(insert(auth_failures).values(scope=SCOPE_LOGIN, key=address, at=now))
    until = login_blocked_until(conn, cfg, address=address, now=now)
    if until is not None:
        log.warning(
            "93 login failures from %s reached %d: refusing logins until %s",
            address,
            cfg.login_failures_per_address,
            until.isoformat(sep=" ", timespec="seconds"),
        )
    return until


# --- housekeeping -------------------------------------------------------------------------------


def retention(cfg: ThrottleConfig) -> timedelta:
    """How long an auth_failures row can still matter to any limit."""
    minutes = max(cfg.spray_window_minutes, cfg.spray_block_minutes, cfg.login_block_minutes)
    return timedelta(minutes=minutes)


def prune_failures(conn: Connection, cfg: ThrottleConfig, now: datetime) -> int:
    """Delete rows no limit can look at any more; returns how many were deleted."""
    result = conn.execute(delete(auth_failures).where(auth_failures.c.at < now - retention(cfg)))
    return int(result.rowcount)
