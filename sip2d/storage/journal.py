"""The circulation journal: one row per kiosk transaction, written in the transaction itself.

A row records what a kiosk asked and what it was told, so that staff can answer "did this
checkout happen?" from the same commit that made (or refused) it. Values are cut to the
columns' widths here, so a long screen message never fails the transaction it describes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, insert

from sip2d.storage.models import circulation_journal
from sip2d.storage.prepared import Prepared

# Runs once per kiosk transaction: compiled once (sip2d.storage.prepared).
_ADD = Prepared(
    insert(circulation_journal).values(
        at=bindparam("at"),
        kind=bindparam("kind"),
        account_login=bindparam("account_login"),
        patron_barcode=bindparam("patron_barcode"),
        item_barcode=bindparam("item_barcode"),
        ok=bindparam("ok"),
        screen_message=bindparam("screen_message"),
    )
)


def add_journal_entry(
    conn: Connection,
    *,
    at: datetime,
    kind: str,
    login: str,
    ok: bool,
    message: str,
    patron_barcode: str = "",
    item_barcode: str = "",
) -> None:
    """Journal one transaction of ``kind`` (checkout, checkin, renew, hold...) by ``login``."""
    _ADD.run(
        conn,
        {
            "at": at,
            "kind": kind,
            "account_login": login,
            "patron_barcode": patron_barcode[:64],
            "item_barcode": item_barcode[:64],
            "ok": ok,
            "screen_message": message[:255],
        },
    )
