"""Hold statements: placing, changing, cancelling, queueing and serving holds.

A hold names a copy (``item_id``) or, with no copy, a title. Its queue is the active holds on
the same copy, or the copy-less holds on the same title. The rules about who may hold what,
and what a kiosk is told, are in :mod:`sip2d.circulation.rules`; this module only reads and
writes rows, and each function is one statement (staff's cancel by id locks the row first).
Staff place holds through the same rule a kiosk's 15 follows, so the desk cannot place a hold
a kiosk would have refused for a reason staff did not see.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from sip2d.storage.models import holds, items, loans, patrons
from sip2d.storage.prepared import Prepared
from sip2d.storage.queries import ACTIVE_HOLD, ACTIVE_HOLD_STATUSES, HOLD_QUEUE_ORDER
from sip2d.storage.records import HoldRecord

WAITING = "waiting"
READY = "ready"
CANCELLED = "cancelled"
FULFILLED = "fulfilled"

# Bind names are never column names of the table an UPDATE changes: run through plain
# ``conn.execute`` (the debugging setting), a parameter named like a column becomes a SET.
_ON_ITEM = holds.c.item_id == bindparam("for_item")
_ON_TITLE = (holds.c.item_id.is_(None)) & (holds.c.title == bindparam("for_title"))

_FIRST_WAITING = Prepared(
    select(holds)
    .where(holds.c.status == WAITING)
    .where(_ON_ITEM | (_ON_TITLE & (holds.c.title != "")))
    .order_by(holds.c.created_at, holds.c.id)
    .limit(1),
    record=HoldRecord,
)
_SET_READY = Prepared(
    update(holds)
    .where(holds.c.id == bindparam("key"))
    .values(status=READY, item_id=bindparam("item_id"))
)
_FULFIL = Prepared(
    update(holds)
    .where(_ON_ITEM, holds.c.patron_id == bindparam("for_patron"))
    .where(or_(holds.c.status == READY, holds.c.status == WAITING))
    .values(status=FULFILLED)
)
_TITLE_WAITERS_BESIDES = Prepared(
    select(func.count())
    .select_from(holds)
    .where(_ON_TITLE, holds.c.status == WAITING, holds.c.patron_id != bindparam("for_patron"))
)
_MINE_ON_ITEM = Prepared(
    select(holds)
    .where(_ON_ITEM, ACTIVE_HOLD, holds.c.patron_id == bindparam("for_patron"))
    .order_by(holds.c.created_at, holds.c.id)
    .limit(1),
    record=HoldRecord,
)
_MINE_ON_TITLE = Prepared(
    select(holds)
    .where(_ON_TITLE, ACTIVE_HOLD, holds.c.patron_id == bindparam("for_patron"))
    .order_by(holds.c.created_at, holds.c.id)
    .limit(1),
    record=HoldRecord,
)
_SET_STATUS = Prepared(
    update(holds).where(holds.c.id == bindparam("key")).values(status=bindparam("new_status"))
)
# NULL keeps the column as it is; the binds carry the columns' types (a datetime is stored as
# SQLAlchemy's DateTime writes it, which SQLite compares as text).
_NEW_PICKUP = bindparam("new_pickup", type_=holds.c.pickup_location.type)
_NEW_EXPIRY = bindparam("new_expiry", type_=holds.c.expires_at.type)
_CHANGE = Prepared(
    update(holds)
    .where(holds.c.id == bindparam("key"))
    .values(
        pickup_location=func.coalesce(_NEW_PICKUP, holds.c.pickup_location),
        expires_at=func.coalesce(_NEW_EXPIRY, holds.c.expires_at),
    )
)
_PLACE = Prepared(
    insert(holds)
    .values(
        patron_id=bindparam("patron_id"),
        item_id=bindparam("item_id"),
        title=bindparam("title"),
        hold_type=bindparam("hold_type"),
        pickup_location=bindparam("pickup_location"),
        created_at=bindparam("created_at"),
        expires_at=bindparam("expires_at"),
        status=WAITING,
    )
    .returning(*holds.c),
    record=HoldRecord,
)
_BEFORE = (holds.c.created_at < bindparam("created_at")) | (
    (holds.c.created_at == bindparam("created_at")) & (holds.c.id < bindparam("key"))
)
_AHEAD_ON_ITEM = Prepared(
    select(func.count()).select_from(holds).where(_ON_ITEM, holds.c.status == WAITING, _BEFORE)
)
_AHEAD_ON_TITLE = Prepared(
    select(func.count()).select_from(holds).where(_ON_TITLE, holds.c.status == WAITING, _BEFORE)
)
# renew_all in one statement each, not one per loan: the active holds on every copy the patron
# has out (queue order within a copy), and the titles of those copies others wait for.
_OPEN_LOAN_OF_PATRON = (loans.c.patron_id == bindparam("key")) & loans.c.returned_at.is_(None)
_QUEUES_ON_LOANS_OF = Prepared(
    select(holds)
    .join(loans, loans.c.item_id == holds.c.item_id)
    .where(_OPEN_LOAN_OF_PATRON, ACTIVE_HOLD)
    .order_by(holds.c.item_id, *HOLD_QUEUE_ORDER),
    record=HoldRecord,
)
_TITLES_WANTED_FROM = Prepared(
    select(items.c.title)
    .distinct()
    .select_from(loans)
    .join(items, items.c.id == loans.c.item_id)
    .join(holds, (holds.c.title == items.c.title) & holds.c.item_id.is_(None))
    .where(_OPEN_LOAN_OF_PATRON, holds.c.status == WAITING, holds.c.patron_id != bindparam("key"))
)


def first_waiting_hold(conn: Connection, item_id: int, title: str) -> HoldRecord | None:
    """The oldest waiting hold this returned copy can serve: on the copy, or on its title."""
    return _FIRST_WAITING.record(conn, {"for_item": item_id, "for_title": title})


def mark_hold_ready(conn: Connection, hold_id: int, item_id: int) -> None:
    """The hold is served by this copy, now on its way to the hold shelf."""
    _SET_READY.run(conn, {"key": hold_id, "item_id": item_id})


def fulfil_holds(conn: Connection, item_id: int, patron_id: int) -> None:
    """The patron has borrowed the copy: their active holds on it are done."""
    _FULFIL.run(conn, {"for_item": item_id, "for_patron": patron_id})


def title_waiters_besides(conn: Connection, title: str, patron_id: int) -> int:
    """How many others wait for ``title`` (copy-less holds): a renewal would keep them waiting."""
    return int(_TITLE_WAITERS_BESIDES.scalar(conn, {"for_title": title, "for_patron": patron_id}))


def active_hold_of(
    conn: Connection, patron_id: int, *, item_id: int | None, title: str
) -> HoldRecord | None:
    """The patron's active hold on the copy ``item_id``, or (no copy) on ``title``."""
    if item_id is not None:
        return _MINE_ON_ITEM.record(conn, {"for_item": item_id, "for_patron": patron_id})
    return _MINE_ON_TITLE.record(conn, {"for_title": title, "for_patron": patron_id})


def cancel_hold(conn: Connection, hold_id: int) -> None:
    _SET_STATUS.run(conn, {"key": hold_id, "new_status": CANCELLED})


def change_hold(
    conn: Connection,
    hold_id: int,
    *,
    pickup_location: str | None = None,
    expires_at: datetime | None = None,
) -> None:
    """Move a hold's pickup location and/or expiry; None keeps what it has."""
    _CHANGE.run(conn, {"key": hold_id, "new_pickup": pickup_location, "new_expiry": expires_at})


def place_hold(
    conn: Connection,
    *,
    patron_id: int,
    item_id: int | None,
    title: str,
    hold_type: str,
    pickup_location: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> HoldRecord:
    """A new waiting hold, as stored."""
    placed = _PLACE.record(
        conn,
        {
            "patron_id": patron_id,
            "item_id": item_id,
            "title": title,
            "hold_type": hold_type,
            "pickup_location": pickup_location,
            "created_at": created_at,
            "expires_at": expires_at,
        },
    )
    assert placed is not None  # INSERT ... RETURNING returns the row it inserted
    return placed


def queue_position(conn: Connection, hold: HoldRecord) -> int:
    """1 for the first in its queue: waiting holds on its copy or title placed before it."""
    params = {"created_at": hold.created_at, "key": hold.id}
    if hold.item_id is not None:
        ahead = _AHEAD_ON_ITEM.scalar(conn, {**params, "for_item": hold.item_id})
    else:
        ahead = _AHEAD_ON_TITLE.scalar(conn, {**params, "for_title": hold.title})
    return int(ahead) + 1


def queues_on_loans_of(conn: Connection, patron_id: int) -> dict[int, list[HoldRecord]]:
    """Active holds on each copy the patron has out, by item id, in queue order."""
    queues: dict[int, list[HoldRecord]] = {}
    for hold in _QUEUES_ON_LOANS_OF.records(conn, {"key": patron_id}):
        assert hold.item_id is not None  # joined on the copy
        queues.setdefault(hold.item_id, []).append(hold)
    return queues


def titles_wanted_from(conn: Connection, patron_id: int) -> set[str]:
    """Titles of the patron's loans that someone else waits for (copy-less holds)."""
    return {row[0] for row in _TITLES_WANTED_FROM.all(conn, {"key": patron_id})}


@dataclasses.dataclass(frozen=True, slots=True)
class HoldLine:
    hold: HoldRecord
    patron_barcode: str
    item_barcode: str | None


def list_holds(
    conn: Connection,
    *,
    patron_id: int | None = None,
    item_id: int | None = None,
    active_only: bool = True,
    limit: int = 100,
) -> list[HoldLine]:
    """Holds in queue order (oldest first), of one patron, on one item, or all."""
    query = (
        select(holds, patrons.c.barcode.label("patron_barcode"), items.c.barcode.label("item"))
        .join(patrons, patrons.c.id == holds.c.patron_id)
        .outerjoin(items, items.c.id == holds.c.item_id)
        .order_by(holds.c.created_at, holds.c.id)
        .limit(limit)
    )
    if patron_id is not None:
        query = query.where(holds.c.patron_id == patron_id)
    if item_id is not None:
        query = query.where(holds.c.item_id == item_id)
    if active_only:
        query = query.where(holds.c.status.in_(ACTIVE_HOLD_STATUSES))
    return [
        HoldLine(HoldRecord.from_row(row), row.patron_barcode, row.item)
        for row in conn.execute(query)
    ]


def cancel_active_hold(conn: Connection, hold_id: int) -> HoldRecord | None:
    """Staff's cancel by id, of an active hold only: the hold as it was, or None when no active
    hold has that id."""
    active = (holds.c.id == hold_id, holds.c.status.in_(ACTIVE_HOLD_STATUSES))
    row = conn.execute(select(holds).where(*active).with_for_update()).first()
    if row is None:
        return None
    conn.execute(update(holds).where(*active).values(status=CANCELLED))
    return HoldRecord.from_row(row)
