"""Patron statements the circulation rules write: locking a patron and kiosk blocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from sip2d.storage.models import BLOCKED_BY_KIOSK, NOT_BLOCKED, patrons
from sip2d.storage.prepared import Prepared

_LOCK = Prepared(select(patrons.c.id).where(patrons.c.id == bindparam("key")).with_for_update())
# Each is one conditional UPDATE, so a staff block that lands between a kiosk's read and its
# write is neither lifted nor relabelled.
_KIOSK_BLOCK = Prepared(
    update(patrons)
    .where(patrons.c.id == bindparam("key"), patrons.c.blocked.is_(False))
    .values(
        blocked=True,
        block_reason=bindparam("reason"),
        block_source=BLOCKED_BY_KIOSK,
        updated_at=bindparam("now"),
    )
)
_LIFT_KIOSK_BLOCK = Prepared(
    update(patrons)
    .where(patrons.c.id == bindparam("key"), patrons.c.block_source == BLOCKED_BY_KIOSK)
    .values(blocked=False, block_reason="", block_source=NOT_BLOCKED, updated_at=bindparam("now"))
)


def lock_patron(conn: Connection, patron_id: int) -> None:
    """Serialise transactions of one patron on PostgreSQL (SQLite's write lock already does)."""
    if conn.dialect.name == "postgresql":
        _LOCK.run(conn, {"key": patron_id})


def block_by_kiosk(conn: Connection, patron_id: int, reason: str, at: datetime) -> bool:
    """Block a patron who is not blocked, as a kiosk's block; False if already blocked."""
    return _KIOSK_BLOCK.run(conn, {"key": patron_id, "reason": reason[:255], "now": at}) == 1


def lift_kiosk_block(conn: Connection, patron_id: int, at: datetime) -> bool:
    """Lift the patron's block if a kiosk set it; False for any other block (or none)."""
    return _LIFT_KIOSK_BLOCK.run(conn, {"key": patron_id, "now": at}) == 1
