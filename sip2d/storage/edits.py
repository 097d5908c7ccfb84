"""Changing patron and item records field by field, and finding patrons by name.

The CLI parses each value with :mod:`sip2d.storage.values` (the same rules as the CSV import)
and passes only the columns the person named, so an edit never blanks a field nobody
mentioned. PIN state is not editable here: PINs have their own commands, which hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, func, select, update

from sip2d.storage import selfservice
from sip2d.storage.errors import NotFound
from sip2d.storage.models import items, patrons
from sip2d.storage.queries import get_patron_by_barcode
from sip2d.storage.records import PatronRecord
from sip2d.storage.sqltime import stored_now, utcnow
from sip2d.storage.values import shown

PATRON_FIELDS = frozenset(
    {"name", "email", "phone", "address", "language", "expires_on", "profile", "loan_limit"}
)
ITEM_FIELDS = frozenset(
    {
        "title",
        "author",
        "call_number",
        "media_type",
        "permanent_location",
        "current_location",
        "holding_library",
        "circulation_status",
        "security_marker",
        "checkout_fee_cents",
    }
)


def _update(
    conn: Connection,
    table: Table,
    allowed: frozenset[str],
    barcode: str,
    changes: Mapping[str, Any],
) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    found = conn.execute(
        update(table)
        .where(table.c.barcode == barcode)
        .values(**changes, updated_at=utcnow())
        .returning(table.c.id)
    ).first()
    if found is None:
        what = "patron" if table is patrons else "item"
        raise NotFound(f"no {what} with barcode {shown(barcode)}")


def update_patron(conn: Connection, barcode: str, changes: Mapping[str, Any]) -> None:
    """Set the given columns of one patron (NotFound when there is none).

    A new e-mail address also revokes the patron's live reset links and tells the old address,
    in the same transaction (issue #16): a mistaken or malicious change at the desk cannot
    quietly redirect where PIN links go.
    """
    before = get_patron_by_barcode(conn, barcode) if "email" in changes else None
    _update(conn, patrons, PATRON_FIELDS, barcode, changes)
    if before is not None and (before.email or "") != (changes["email"] or ""):
        from sip2d.web.i18n import mail_language  # the page's languages; babel, no web server

        selfservice.email_changed(
            conn,
            before,
            changes["email"] or "",
            now=stored_now(),
            language=mail_language(before.language, "en"),
        )


def update_item(conn: Connection, barcode: str, changes: Mapping[str, Any]) -> None:
    """Set the given columns of one item (NotFound when there is none)."""
    _update(conn, items, ITEM_FIELDS, barcode, changes)


def _like_pattern(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_patrons(conn: Connection, name: str, limit: int = 50) -> tuple[list[PatronRecord], int]:
    """Patrons whose name contains ``name`` (any case; ``%`` and ``_`` match themselves),
    by name, at most ``limit``; and how many matched in all."""
    match = func.lower(patrons.c.name).like(_like_pattern(name.lower()), escape="\\")
    total = conn.execute(select(func.count()).where(match)).scalar_one()
    rows = conn.execute(
        select(patrons).where(match).order_by(patrons.c.name, patrons.c.barcode).limit(limit)
    )
    return [PatronRecord.from_row(row) for row in rows], int(total)
