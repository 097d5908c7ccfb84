"""Item statements the circulation rules write: where a copy is and what state it is in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from sip2d.storage.models import items
from sip2d.storage.prepared import Prepared

_LOCK = Prepared(select(items.c.id).where(items.c.id == bindparam("key")).with_for_update())
_SET_STATUS = Prepared(
    update(items)
    .where(items.c.id == bindparam("key"))
    .values(circulation_status=bindparam("status"), updated_at=bindparam("now"))
)
_SET_STATUS_AND_LOCATION = Prepared(
    update(items)
    .where(items.c.id == bindparam("key"))
    .values(
        circulation_status=bindparam("status"),
        current_location=bindparam("location"),
        updated_at=bindparam("now"),
    )
)
_SET_PROPERTIES = Prepared(
    update(items)
    .where(items.c.id == bindparam("key"))
    .values(properties=bindparam("new_properties"), updated_at=bindparam("now"))
)


def lock_item(conn: Connection, item_id: int) -> None:
    """Serialise transactions on one copy on PostgreSQL (SQLite's write lock already does)."""
    if conn.dialect.name == "postgresql":
        _LOCK.run(conn, {"key": item_id})


def set_item_status(
    conn: Connection, item_id: int, status: str, at: datetime, *, location: str = ""
) -> None:
    """Set the copy's SIP2 circulation status; with ``location``, it is now there too."""
    params = {"key": item_id, "status": status, "now": at}
    if location:
        _SET_STATUS_AND_LOCATION.run(conn, {**params, "location": location})
    else:
        _SET_STATUS.run(conn, params)


def set_item_properties(conn: Connection, item_id: int, properties: str, at: datetime) -> None:
    """Store a kiosk's free-text properties of the copy (19 Item Status Update)."""
    _SET_PROPERTIES.run(conn, {"key": item_id, "new_properties": properties, "now": at})
