"""How long a request's fields may be, checked before anything reaches the database.

A value longer than its column is a DataError on PostgreSQL (SQLite stores it anyway), raised
in the middle of a unit of work: the request fails, and a failed-PIN row written in the same
transaction is rolled back with it. So every request field that is stored in, or compared
with, a sized column is checked first, and an over-long one is refused with a screen message
naming it ("Patron identifier too long (max 64)").

The lengths are read from the models (:mod:`sip2d.storage.models`), never restated: a
migration that widens a column widens what kiosks may send. Fields keyed by attribute name,
because an attribute means the same thing in every message (``patron_identifier`` is AA in 23,
11, 15...), so one table covers all sixteen request types.

Secrets (AC terminal password, AD patron PIN, CO login password) are never stored in clear, but
they are hashed and compared, so they are bound too: by the protocol's own limit on a field
value (255 bytes, :data:`sip2d.protocol.charset.MAX_VALUE_BYTES`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import Column, String

from sip2d.protocol import Message
from sip2d.protocol.charset import MAX_VALUE_BYTES
from sip2d.storage.models import holds, items, kiosk_accounts, patrons, payments


def _length(column: Column[Any]) -> int:
    column_type = column.type
    assert isinstance(column_type, String) and column_type.length is not None, column
    return column_type.length


# Request attribute -> the column whose size bounds it (where it is stored or compared).
_COLUMNS: Final[dict[str, Column[Any]]] = {
    "patron_identifier": patrons.c.barcode,  # AA: patrons, journal, failed-PIN rows
    "item_identifier": items.c.barcode,  # AB
    "institution_id": kiosk_accounts.c.institution_id,  # AO
    "login_user_id": kiosk_accounts.c.login,  # CN
    "location_code": kiosk_accounts.c.location_code,  # CP
    "current_location": items.c.current_location,  # AP
    "pickup_location": holds.c.pickup_location,  # BS
    "title_identifier": holds.c.title,  # AJ
    "hold_type": holds.c.hold_type,  # BY
    "blocked_card_msg": patrons.c.block_reason,  # AL
    "transaction_id": payments.c.transaction_id,  # BK
    # CG names a fee by the identifier this server hands out as a transaction id (F<id>).
    "fee_identifier": payments.c.transaction_id,
}
_SECRETS: Final = ("terminal_password", "patron_password", "login_password")

LIMITS: Final = MappingProxyType(
    {
        **{attr: _length(column) for attr, column in _COLUMNS.items()},
        **dict.fromkeys(_SECRETS, MAX_VALUE_BYTES),
    }
)


def label(attr: str) -> str:
    """The screen-message name of a field: ``patron_identifier`` -> "Patron identifier"."""
    return attr.replace("_", " ").capitalize()


def too_long(message: Message) -> str | None:
    """The refusal text for the first over-long field of ``message``, or None when all fit."""
    for var in message.LAYOUT.variable:
        limit = LIMITS.get(var.attr)
        if limit is None:
            continue
        value = getattr(message, var.attr)
        if isinstance(value, str) and len(value) > limit:
            return f"{label(var.attr)} too long (max {limit})"
    return None
