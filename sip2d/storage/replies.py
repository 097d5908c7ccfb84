"""The statements behind retry recognition (:mod:`sip2d.circulation.retries`).

Every function takes the caller's connection and runs inside the caller's transaction; none
commits. The stored replies are the table ``transaction_replies`` (revision 0004).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from sip2d.storage.models import loans, transaction_replies
from sip2d.storage.prepared import Prepared

# Old replies are deleted every this many stored ones: one DELETE per batch, not per write.
PRUNE_EVERY = 64

_SAME_KEY = (
    transaction_replies.c.account_id == bindparam("account_id"),
    transaction_replies.c.kind == bindparam("kind"),
    transaction_replies.c.subject == bindparam("subject"),
    transaction_replies.c.patron_barcode == bindparam("patron"),
    transaction_replies.c.created_at >= bindparam("since"),
)
_COLUMNS = (transaction_replies.c.loan_id, transaction_replies.c.reply)
_FIND_DATED = Prepared(
    select(*_COLUMNS)
    .where(*_SAME_KEY)
    .where(transaction_replies.c.transaction_at.between(bindparam("low"), bindparam("high")))
    .order_by(transaction_replies.c.id.desc())
    .limit(1)
)
_FIND_UNDATED = Prepared(
    select(*_COLUMNS)
    .where(*_SAME_KEY)
    .where(transaction_replies.c.transaction_at.is_(None))
    .order_by(transaction_replies.c.id.desc())
    .limit(1)
)
_STORE = Prepared(
    insert(transaction_replies)
    .values(
        account_id=bindparam("account_id"),
        kind=bindparam("kind"),
        patron_barcode=bindparam("patron"),
        subject=bindparam("subject"),
        transaction_at=bindparam("transaction_at"),
        created_at=bindparam("now"),
        loan_id=bindparam("loan_id"),
        reply=bindparam("reply"),
    )
    .returning(transaction_replies.c.id)
)
_PRUNE = Prepared(
    delete(transaction_replies).where(transaction_replies.c.created_at < bindparam("before"))
)
# PostgreSQL: one retry key at a time across transactions and daemons (SQLite's single writer
# already serialises every write transaction).
_KEY_LOCK = Prepared(select(func.pg_advisory_xact_lock(func.hashtext(bindparam("lock")))))
_LOAN_OPEN = Prepared(
    select(loans.c.id).where(loans.c.id == bindparam("key"), loans.c.returned_at.is_(None))
)
_LATEST_LOAN_OF_ITEM = Prepared(
    select(func.max(loans.c.id)).where(loans.c.item_id == bindparam("key"))
)


@dataclass(frozen=True)
class StoredReply:
    loan_id: int | None
    reply: str


@dataclass(frozen=True)
class ReplyKey:
    """What makes two requests the same transaction (see sip2d.circulation.retries)."""

    account_id: int
    kind: str
    patron: str
    subject: str
    transaction_at: datetime | None


def lock_key(conn: Connection, key: ReplyKey) -> None:
    """Hold off other transactions with the same key until this one ends (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        lock = f"retry|{key.account_id}|{key.kind}|{key.patron}|{key.subject}"
        _KEY_LOCK.run(conn, {"lock": lock})


def find_reply(
    conn: Connection, key: ReplyKey, now: datetime, window: timedelta
) -> StoredReply | None:
    """The latest reply stored for ``key`` within ``window`` of now and of its date."""
    params: dict[str, object] = {
        "account_id": key.account_id,
        "kind": key.kind,
        "subject": key.subject,
        "patron": key.patron,
        "since": _shifted(now, -window),
    }
    if key.transaction_at is None:
        row = _FIND_UNDATED.first(conn, params)
    else:
        params["low"] = _shifted(key.transaction_at, -window)
        params["high"] = _shifted(key.transaction_at, window)
        row = _FIND_DATED.first(conn, params)
    return None if row is None else StoredReply(row[0], row[1])


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, clamped: a kiosk may send year 1 or 9999 (the codec accepts both)."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.min if delta < timedelta(0) else datetime.max


def store_reply(
    conn: Connection,
    key: ReplyKey,
    now: datetime,
    window: timedelta,
    reply: str,
    loan_id: int | None,
) -> None:
    """Keep ``reply`` for ``key``; now and then delete the replies older than ``window``."""
    new_id = _STORE.scalar(
        conn,
        {
            "account_id": key.account_id,
            "kind": key.kind,
            "patron": key.patron,
            "subject": key.subject,
            "transaction_at": key.transaction_at,
            "now": now,
            "loan_id": loan_id,
            "reply": reply,
        },
    )
    if int(new_id) % PRUNE_EVERY == 0:
        _PRUNE.run(conn, {"before": _shifted(now, -window)})


def loan_is_open(conn: Connection, loan_id: int) -> bool:
    return _LOAN_OPEN.first(conn, {"key": loan_id}) is not None


def latest_loan_of_item(conn: Connection, item_id: int) -> int | None:
    """The id of the item's most recent loan, open or returned (None if never lent)."""
    found = _LATEST_LOAN_OF_ITEM.scalar(conn, {"key": item_id})
    return None if found is None else int(found)
