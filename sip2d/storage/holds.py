"""Holds as staff see them: the queue across patrons and items, and cancelling one by its id.

Placing a hold goes through :func:`sip2d.circulation.rules.hold`, the same rule a kiosk's 15
follows (blocked or expired cards, one hold per patron and target, queue position), so the desk
cannot place a hold a kiosk would have refused for a reason staff did not see.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import Connection, select, update

from sip2d.storage.models import holds, items, patrons
from sip2d.storage.queries import ACTIVE_HOLD_STATUSES
from sip2d.storage.records import HoldRecord


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


def cancel_hold(conn: Connection, hold_id: int) -> HoldRecord | None:
    """Cancel an active hold; the hold as it was, or None when no active hold has that id."""
    active = (holds.c.id == hold_id, holds.c.status.in_(ACTIVE_HOLD_STATUSES))
    row = conn.execute(select(holds).where(*active).with_for_update()).first()
    if row is None:
        return None
    conn.execute(update(holds).where(*active).values(status="cancelled"))
    return HoldRecord.from_row(row)
