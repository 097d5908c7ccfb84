"""What a 64 Patron Information response counts and lists (reference 7.6).

Built from the store's read helpers, three statements whatever the patron holds (no read per
hold or fee). Lists are in a stable order (the store's: loans by due
date, holds and fees oldest first) so that BP/BQ paging across several 63s sees the same
numbering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from sip2d.storage.queries import (
    listed_fees_of_patron,
    listed_holds_of_patron,
    open_loans_of_patron,
)


@dataclass(frozen=True)
class PatronLists:
    hold_items: list[str]
    overdue_items: list[str]
    charged_items: list[str]
    fine_items: list[str]
    recall_items: list[str]
    unavailable_holds: list[str]


def patron_lists(conn: Connection, patron_id: int, now: datetime) -> PatronLists:
    """Every list a 63 can ask for. Items are named by barcode, title holds by title."""
    loans = open_loans_of_patron(conn, patron_id)
    ready: list[str] = []
    waiting: list[str] = []
    for hold in listed_holds_of_patron(conn, patron_id):
        label = hold.item_barcode if hold.item_barcode is not None else hold.title
        (ready if hold.status == "ready" else waiting).append(label)
    fine_items = [
        fee.item_barcode if fee.item_barcode is not None else f"F{fee.id} {fee.description}".strip()
        for fee in listed_fees_of_patron(conn, patron_id)
    ]
    return PatronLists(
        hold_items=ready,
        overdue_items=[loan.item_barcode for loan in loans if loan.is_overdue(now)],
        charged_items=[loan.item_barcode for loan in loans],
        fine_items=fine_items,
        recall_items=[],
        unavailable_holds=waiting,
    )
