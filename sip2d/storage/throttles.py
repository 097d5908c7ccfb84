"""The guessing limits as staff see them: who is slowed, blocked or locked, and clearing them.

A vendor's test run or a typo in a kiosk's configuration can block a whole branch's address
for half an hour; staff need to see that and lift it without waiting. The limits themselves
(:mod:`sip2d.auth.throttle`) decide what counts; this module only reads their state through the
same functions the daemon uses and deletes the rows that feed them, so a cleared source starts
again from zero on every daemon sharing the database.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, or_, select

from sip2d.auth.throttle import (
    BLOCK_SUFFIX,
    PENDING,
    SCOPE_ACCOUNT,
    SCOPE_ADDRESS,
    SCOPE_LOGIN,
    SCOPE_LOGIN_NAME,
    login_blocked_until,
    retention,
    source_state,
    unlock_patron,
)
from sip2d.config import ThrottleConfig
from sip2d.storage.models import auth_failures, patrons

# What `sip2d throttle` calls each kind of source.
KINDS = ("address", "account", "patron")


@dataclasses.dataclass(frozen=True, slots=True)
class ThrottleLine:
    """One source or patron with failures that still count.

    ``what`` says which limit: ``pin-spray`` (PIN failures on distinct cards), ``login`` (93
    failures from an address), ``login-name`` (93 failures for one login name from an address;
    the name itself is never stored, only a keyed digest), ``pin`` (a patron's own failures).
    """

    kind: str
    key: str
    what: str
    failures: int
    blocked_until: datetime | None
    last_at: datetime | None


def list_throttles(conn: Connection, cfg: ThrottleConfig, now: datetime) -> list[ThrottleLine]:
    """Every source with failures inside the limits' memory, and every patron with PIN failures."""
    c = auth_failures.c
    counted = (
        select(c.scope, c.key, func.count(), func.max(c.at))
        .where(c.at >= now - retention(cfg), c.patron_barcode != PENDING)
        .where(c.scope.in_((SCOPE_ACCOUNT, SCOPE_ADDRESS, SCOPE_LOGIN, SCOPE_LOGIN_NAME)))
        .group_by(c.scope, c.key)
        .order_by(c.scope, c.key)
    )
    lines: list[ThrottleLine] = []
    for scope, key, count, last in conn.execute(counted):
        if scope in (SCOPE_ACCOUNT, SCOPE_ADDRESS):
            state = source_state(
                conn,
                cfg,
                account=key if scope == SCOPE_ACCOUNT else "",
                address=key if scope == SCOPE_ADDRESS else "",
                now=now,
            )
            kind = "account" if scope == SCOPE_ACCOUNT else "address"
            lines.append(
                ThrottleLine(kind, key, "pin-spray", state.failures, state.blocked_until, last)
            )
        elif scope == SCOPE_LOGIN:
            until = login_blocked_until(conn, cfg, address=key, now=now)
            lines.append(ThrottleLine("address", key, "login", int(count), until, last))
        else:
            address, _, tag = key.partition(" ")
            until = login_blocked_until(conn, cfg, address=address, now=now, login_tag=tag)
            lines.append(ThrottleLine("address", address, "login-name", int(count), until, last))
    locked = conn.execute(
        select(patrons.c.barcode, patrons.c.pin_failures, patrons.c.pin_locked_until)
        .where(or_(patrons.c.pin_failures > 0, patrons.c.pin_locked_until > now))
        .order_by(patrons.c.barcode)
    )
    for barcode, failures, until in locked:
        active = until if until is not None and until > now else None
        lines.append(ThrottleLine("patron", barcode, "pin", int(failures), active, None))
    return lines


def clear_throttle(conn: Connection, kind: str, key: str) -> int:
    """Forget the failures of one source (or unlock one patron); how many records changed.

    An address is cleared for every limit that keys on it: PIN sprays, 93 logins, and 93
    logins for each login name from it. A patron keeps their PIN; only the failure count and
    the lock go, as with ``sip2d patron unlock``.
    """
    c = auth_failures.c
    scopes: tuple[str, ...]
    if kind == "patron":
        return 1 if unlock_patron(conn, key) else 0
    if kind == "account":
        scopes = (SCOPE_ACCOUNT, SCOPE_ACCOUNT + BLOCK_SUFFIX)
        where = and_(c.scope.in_(scopes), c.key == key)
    elif kind == "address":
        scopes = (SCOPE_ADDRESS, SCOPE_ADDRESS + BLOCK_SUFFIX, SCOPE_LOGIN)
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = or_(
            and_(c.scope.in_(scopes), c.key == key),
            and_(c.scope == SCOPE_LOGIN_NAME, c.key.like(escaped + " %", escape="\\")),
        )
    else:
        raise ValueError(f"not a throttle kind: {kind!r} (one of {', '.join(KINDS)})")
    return int(conn.execute(delete(auth_failures).where(where)).rowcount)
