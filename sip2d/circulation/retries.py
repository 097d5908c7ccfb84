"""Recognising a transaction a kiosk sends again, and answering it as the first time.

A kiosk that gets no answer in time (a lost packet, a daemon restart, a slow database) gives
up on the connection, opens a new one, perhaps to another daemon behind the same address, logs
in and sends the same transaction again. The per-connection duplicate rule (same AY and
checksum, reference P19) cannot see that. Executed again, a checkout would become a renewal
(or, with SC renewal policy N, a refusal although the loan exists), a fee paid without BK
would be paid twice, a renewal would add a second period, and a checkin would send a second
waiting hold to the shelf.

So the answer to every transaction that changed something is kept in the database
(``transaction_replies``) for ``[server] retry_window`` seconds, and a request is a retry when:

- it comes from the same kiosk account, is of the same kind (11, 09, 29, 65 or 37), for the
  same patron and the same item (for 37: the same amount, fee type, payment type, currency,
  fee identifier CG and transaction id BK);
- its transaction date is within the window of the original's (kiosks that rebuild the
  request put a new date in it; kiosks that resend it keep the old one), and it arrives within
  the window of the original;
- what the original did still stands: the loan a checkout or renewal left is still open; no
  loan of a checked-in item has been opened since the checkin. A patron who returns a book and
  borrows it again within the window borrows it again.

A retry gets the original response, field for field, and changes nothing. Refusals are not
kept: they changed nothing, and a retry after, say, paying a fine must be judged afresh.

Race safety: the lookup and the transaction run in one database transaction, and before the
lookup the transaction takes a lock on the key (a transaction-scoped advisory lock on
PostgreSQL; SQLite has a single writer anyway). Two copies arriving at once on two connections
or two daemons therefore run one after the other, and the second finds the first's reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from sip2d.protocol import Message, decode, encode_body
from sip2d.storage.queries import get_item_by_barcode, open_loan_of_item
from sip2d.storage.records import ItemRecord, KioskAccountRecord
from sip2d.storage.replies import (
    ReplyKey,
    StoredReply,
    find_reply,
    latest_loan_of_item,
    loan_is_open,
    lock_key,
    store_reply,
)

# Column sizes of transaction_replies: a longer identifier cannot belong to a transaction that
# changed anything (patrons and items have 64-character barcodes), so it is never looked up.
_MAX_PATRON = 64
_MAX_SUBJECT = 255
# Kinds whose original left a loan that must still be open for a retry to be one.
_LOAN_KINDS = frozenset({"11", "29"})
# The stored text is the codec's own encoding of the response, in one fixed character set.
_STORED_ENCODING = "utf-8"


@dataclass(frozen=True)
class Applied:
    """A transaction run for the first time: its response and what to keep of it."""

    response: Message
    # Whether it changed something, so that a retry must be answered from this response.
    changed: bool
    # The loan it left behind (11, 29) or the item's latest loan after it (09).
    loan_id: int | None = None


def retry_key(
    kind: str,
    account: KioskAccountRecord | None,
    patron: str,
    subject: str,
    transaction_at: datetime | None,
) -> ReplyKey | None:
    """The key a retry of this request would share, or None when it cannot be recognised."""
    if account is None or len(patron) > _MAX_PATRON or len(subject) > _MAX_SUBJECT:
        return None
    return ReplyKey(account.id, kind, patron, subject, transaction_at)


def payment_subject(
    amount_cents: int,
    fee_type: str,
    payment_type: str,
    currency: str,
    fee_identifier: str,
    transaction_id: str,
) -> str:
    """What a 37 is about besides the patron: every term that makes it a different payment."""
    return "|".join(
        (str(amount_cents), fee_type, payment_type, currency, fee_identifier, transaction_id)
    )


def answer_once(
    conn: Connection,
    key: ReplyKey | None,
    now: datetime,
    window: timedelta,
    apply: Callable[[], Applied],
) -> tuple[Message, bool]:
    """The response to a transaction: the original's if this is a retry, else ``apply()``'s.

    Returns the response and whether it was a retry answered from the stored reply.
    """
    if key is None or window <= timedelta(0):
        return apply().response, False
    lock_key(conn, key)
    earlier = find_reply(conn, key, now, window)
    if earlier is not None and _still_stands(conn, key, earlier):
        return decode(earlier.reply.encode(_STORED_ENCODING), _STORED_ENCODING).message, True
    applied = apply()
    if applied.changed:
        text = encode_body(applied.response, _STORED_ENCODING).decode(_STORED_ENCODING)
        store_reply(conn, key, now, window, text, applied.loan_id)
    return applied.response, False


def open_loan_id(conn: Connection, item: ItemRecord | None) -> int | None:
    """The loan a checkout or renewal of ``item`` left open."""
    if item is None:
        return None
    loan = open_loan_of_item(conn, item.id)
    return None if loan is None else loan.id


def latest_loan_id(conn: Connection, item: ItemRecord | None) -> int | None:
    """The item's latest loan after a checkin: any checkout since will have a newer one."""
    return None if item is None else latest_loan_of_item(conn, item.id)


def _still_stands(conn: Connection, key: ReplyKey, earlier: StoredReply) -> bool:
    """Whether what the original transaction did is still in place."""
    if key.kind in _LOAN_KINDS:
        return earlier.loan_id is not None and loan_is_open(conn, earlier.loan_id)
    if key.kind == "09":
        item = get_item_by_barcode(conn, key.subject)
        return (
            item is not None
            and open_loan_of_item(conn, item.id) is None
            and latest_loan_of_item(conn, item.id) == earlier.loan_id
        )
    return True
