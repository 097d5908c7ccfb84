"""The circulation schema as SQLAlchemy 2.x typed models.

Conventions that every query relies on:

* Every timestamp is a naive ``datetime`` in UTC. SQLite has no time-zone type, so storing
  aware values would round-trip differently on the two engines; one rule for both is safer.
* Money is an integer number of cents (``*_cents``). SQLite has no exact decimal type and a
  kiosk must never show 2.4999999.
* No column can hold a clear PIN or kiosk password: only ``pin_hash`` / ``password_hash``,
  which hold the self-describing records produced by :mod:`sip2d.auth.hashing`.

The hot path uses these tables through SQLAlchemy Core (``Patron.__table__``), the CLI through
the ORM; both see the same definitions. Alembic revisions create the schema; nothing calls
``create_all`` outside tests of the migrations themselves.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sip2d.storage.sqltime import utcnow

# Stable constraint names, so Alembic revisions can refer to them on both engines.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# patrons.block_source: who set the current block.
NOT_BLOCKED = ""
BLOCKED_BY_STAFF = "staff"  # the CLI, the desk, a patron import
BLOCKED_BY_KIOSK = "kiosk"  # 01 Block Patron
BLOCKED_BY_POLICY = "policy"  # reserved for blocks the server sets by itself


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Patron(Base):
    __tablename__ = "patrons"

    id: Mapped[int] = mapped_column(primary_key=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    # SIP2 language code (3 digits, section 5.9); 000 = unknown.
    language: Mapped[str] = mapped_column(String(3), default="000")
    expires_on: Mapped[date | None] = mapped_column(Date, default=None)
    # Staff or kiosk (01 Block Patron) block; reason is shown to staff, not to patrons.
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    block_reason: Mapped[str] = mapped_column(String(255), default="")
    # Who set the block (one of the BLOCKED_BY_* values, NOT_BLOCKED when not blocked): a
    # kiosk may lift only a block a kiosk set, never one from staff or a policy. The server
    # default is there because SQLite adds a NOT NULL column only with one, and can drop it
    # again only by rebuilding the table (see revision 0002).
    block_source: Mapped[str] = mapped_column(
        String(16), default=NOT_BLOCKED, server_default=text("''")
    )
    # Outstanding fines and fees, kept equal to the sum of unpaid fees in the same transaction.
    fine_balance_cents: Mapped[int] = mapped_column(Integer, default=0)
    # None: take the limit from the loan policy.
    loan_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    profile: Mapped[str] = mapped_column(String(32), default="adult")
    # PIN state. pin_hash None means no PIN set (kiosk PIN checks fail).
    pin_hash: Mapped[str | None] = mapped_column(Text, default=None)
    pin_must_change: Mapped[bool] = mapped_column(Boolean, default=False)
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    pin_locked_until: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=utcnow())
    updated_at: Mapped[datetime] = mapped_column(DateTime, server_default=utcnow())


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    author: Mapped[str] = mapped_column(String(255), default="")
    call_number: Mapped[str] = mapped_column(String(64), default="")
    # SIP2 media type (3 digits, section 5.8); 001 = book.
    media_type: Mapped[str] = mapped_column(String(3), default="001")
    permanent_location: Mapped[str] = mapped_column(String(64), default="")
    current_location: Mapped[str] = mapped_column(String(64), default="")
    # SIP2 circulation status (2 digits, section 5.4); 03 = available.
    circulation_status: Mapped[str] = mapped_column(String(2), default="03")
    # SIP2 security marker (2 digits, section 5.5); 00 = other (RFID sites).
    security_marker: Mapped[str] = mapped_column(String(2), default="00")
    holding_library: Mapped[str] = mapped_column(String(64), default="")
    # Free text from 19 Item Status Update (CH).
    properties: Mapped[str] = mapped_column(Text, default="")
    # A fee to borrow this item (rental); checkout needs BO=Y when non-zero.
    checkout_fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=utcnow())
    updated_at: Mapped[datetime] = mapped_column(DateTime, server_default=utcnow())


class KioskAccount(Base):
    """A self-check machine's login (93 CN/CO) and what it may do."""

    __tablename__ = "kiosk_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    institution_id: Mapped[str] = mapped_column(String(64), default="MAIN")
    location_code: Mapped[str] = mapped_column(String(64), default="")
    # Python codec name used on the wire: utf-8, cp850, latin-1 or ascii.
    encoding: Mapped[str] = mapped_column(String(16), default="utf-8")
    # auto: mirror the kiosk per message; required: refuse frames without checksum; off: never.
    error_detection: Mapped[str] = mapped_column(String(8), default="auto")
    # Output terminator: CR (spec) or CRLF.
    terminator: Mapped[str] = mapped_column(String(4), default="CR")
    # Comma-separated CIDR networks this account may log in from; empty = anywhere.
    allowed_networks: Mapped[str] = mapped_column(Text, default="")
    can_checkout: Mapped[bool] = mapped_column(Boolean, default=True)
    can_checkin: Mapped[bool] = mapped_column(Boolean, default=True)
    can_renew: Mapped[bool] = mapped_column(Boolean, default=True)
    can_fee_paid: Mapped[bool] = mapped_column(Boolean, default=True)
    can_hold: Mapped[bool] = mapped_column(Boolean, default=True)
    # The families that change records beyond a loan are off until granted: 01 Block Patron,
    # 25 Patron Enable, 19 Item Status Update. Server defaults: see Patron.block_source.
    can_block_patron: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    can_enable_patron: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    can_item_status: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Whether a transaction sent with no block = Y is taken as an off-line one (already done by
    # the kiosk while the ACS was away). Off unless granted: it lets a kiosk skip on-line checks.
    can_offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 09 of an item that is not on loan answers ok=1 (Koha's checked_in_ok) instead of ok=0.
    checked_in_ok: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=utcnow())


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (
        # The one-open-loan rule, enforced by the database on both engines: two kiosks racing
        # for one item cannot both commit a loan.
        Index(
            "uq_loans_open_item",
            "item_id",
            unique=True,
            sqlite_where=text("returned_at IS NULL"),
            postgresql_where=text("returned_at IS NULL"),
        ),
        Index("ix_loans_patron_open", "patron_id", "returned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk_accounts.id"), default=None)
    checked_out_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    # Recorded off line by the kiosk (no block = Y) and accepted as sent.
    offline: Mapped[bool] = mapped_column(Boolean, default=False)


class Hold(Base):
    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_item_status", "item_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    # A copy hold names the item; a title hold names only the title identifier.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), default=None)
    title: Mapped[str] = mapped_column(String(255), default="")
    # SIP2 hold type (BY, section 5.10).
    hold_type: Mapped[str] = mapped_column(String(1), default="2")
    pickup_location: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    # waiting (in the queue), ready (on the hold shelf), fulfilled, cancelled.
    status: Mapped[str] = mapped_column(String(16), default="waiting")


class Fee(Base):
    __tablename__ = "fees"

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), default=None)
    # SIP2 fee type (2 digits, section 5.6).
    fee_type: Mapped[str] = mapped_column(String(2), default="01")
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Payment(Base):
    """One 37 Fee Paid, idempotent by the kiosk's transaction id (BK)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("account_id", "transaction_id", name="uq_payments_txn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    fee_id: Mapped[int | None] = mapped_column(ForeignKey("fees.id"), default=None)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk_accounts.id"), default=None)
    transaction_id: Mapped[str | None] = mapped_column(String(64), default=None)
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    payment_type: Mapped[str] = mapped_column(String(2), default="00")
    fee_type: Mapped[str] = mapped_column(String(2), default="01")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LoanPolicy(Base):
    """Loan rules; the most specific row (media type and profile) wins, NULL matches any."""

    __tablename__ = "loan_policies"
    __table_args__ = (UniqueConstraint("media_type", "profile", name="uq_loan_policies_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_type: Mapped[str | None] = mapped_column(String(3), default=None)
    profile: Mapped[str | None] = mapped_column(String(32), default=None)
    loan_days: Mapped[int] = mapped_column(Integer, default=21)
    renewal_limit: Mapped[int] = mapped_column(Integer, default=2)
    max_loans: Mapped[int] = mapped_column(Integer, default=50)
    # Checkout is refused while the patron owes more than this.
    fine_threshold_cents: Mapped[int] = mapped_column(Integer, default=1000)
    # Charged per day late at checkin; 0 = no lateness fines.
    daily_fine_cents: Mapped[int] = mapped_column(Integer, default=0)
    # The most one late return is fined; 0 = no cap. Server default: see Patron.block_source.
    max_fine_cents: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class JournalEntry(Base):
    """Every circulation transaction a kiosk made. Never holds a PIN or password."""

    __tablename__ = "circulation_journal"
    __table_args__ = (Index("ix_circulation_journal_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    # checkout, checkin, renew, renew_all, fee_paid, hold, block, enable, item_update
    kind: Mapped[str] = mapped_column(String(16))
    account_login: Mapped[str] = mapped_column(String(64), default="")
    patron_barcode: Mapped[str] = mapped_column(String(64), default="")
    item_barcode: Mapped[str] = mapped_column(String(64), default="")
    ok: Mapped[bool] = mapped_column(Boolean)
    screen_message: Mapped[str] = mapped_column(String(255), default="")


class AuthFailure(Base):
    """One failed PIN or kiosk-login attempt, for limits shared by every daemon on the store.

    ``scope`` says which limit the row feeds: ``account`` (key = kiosk login) and ``address``
    (key = client IP) for PIN sprays across patrons, ``login`` (key = client IP) for failed
    93 logins. ``patron_barcode`` lets the spray check count distinct patrons.
    """

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    patron_barcode: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(DateTime)


class AuditEvent(Base):
    """One staff or patron self-service action on a record, kept so a library can answer "who
    changed this, and when". Never holds a PIN, password, token or set-up code: ``detail`` is a
    short JSON text of the non-secret facts (fields changed, counts, a card's last digits).
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Who acted: "cli:<os user>", "web", "kiosk:<login>", "import".
    actor: Mapped[str] = mapped_column(String(64))
    # What was done, dotted: "patron.delete", "pin.reset", "setup_code.issue", ...
    action: Mapped[str] = mapped_column(String(64))
    # What it was done to: "patron:<barcode>", "item:<barcode>", "account:<login>", ...
    subject: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class TransactionReply(Base):
    """The answer to a transaction that changed something (11, 09, 29, 65, 37), kept for a
    while so that a kiosk retrying it on a new connection, or through another daemon, is
    answered as the first time instead of having it applied twice (sip2d.circulation.retries).

    ``subject`` is what the transaction was about besides the patron: the item barcode, or a
    payment's amount and codes. ``loan_id`` is the loan the transaction left behind, for the
    check that nothing has happened to it since (no foreign key: a cancelled checkout deletes
    its loan). ``reply`` is the response, encoded by the SIP2 codec as UTF-8 text.
    """

    __tablename__ = "transaction_replies"
    __table_args__ = (
        Index("ix_transaction_replies_key", "account_id", "kind", "subject", "patron_barcode"),
        Index("ix_transaction_replies_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(2))
    patron_barcode: Mapped[str] = mapped_column(String(64), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    # The kiosk's transaction date (stored convention), None when it sent none.
    transaction_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    loan_id: Mapped[int | None] = mapped_column(Integer, default=None)
    reply: Mapped[str] = mapped_column(Text)


class PinToken(Base):
    """A self-service secret (issue #16): a mailed reset link or a desk set-up code.

    Only a keyed digest of the secret is kept (``digest``, an HMAC under a key derived from the
    pepper), never the secret. ``state`` is a digest of what the patron's PIN record (and, for
    links, e-mail address) was when the secret was made: any change to either, from the web,
    the CLI, an import or a kiosk, makes every older secret of that patron useless without
    anyone having to remember to revoke it.
    """

    __tablename__ = "pin_tokens"
    __table_args__ = (Index("ix_pin_tokens_patron_created", "patron_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id", ondelete="CASCADE"))
    # "link" (mailed) or "code" (desk).
    kind: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)


class OutboxMail(Base):
    """One mail to send. The text is rendered when it is sent, from ``kind`` and the facts here.

    A reset link's token is not stored: ``link_seed`` is a random value from which the sender
    derives the token under a key from the pepper, so the database alone never holds a usable
    link; the seed is erased once the mail is delivered.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "reset_link", "pin_changed", "email_changed".
    kind: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str] = mapped_column(String(255))
    # A gettext locale name ("en", "de").
    language: Mapped[str] = mapped_column(String(8), default="en")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    link_seed: Mapped[str | None] = mapped_column(String(64), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    # Given up after too many attempts (sent_at stays None).
    failed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    last_error: Mapped[str] = mapped_column(String(255), default="")


# Core handles for the hot path. ``__table__`` is typed as a generic FromClause; these are Tables.
patrons = cast(Table, Patron.__table__)
items = cast(Table, Item.__table__)
kiosk_accounts = cast(Table, KioskAccount.__table__)
loans = cast(Table, Loan.__table__)
holds = cast(Table, Hold.__table__)
fees = cast(Table, Fee.__table__)
payments = cast(Table, Payment.__table__)
loan_policies = cast(Table, LoanPolicy.__table__)
circulation_journal = cast(Table, JournalEntry.__table__)
auth_failures = cast(Table, AuthFailure.__table__)
audit_events = cast(Table, AuditEvent.__table__)
transaction_replies = cast(Table, TransactionReply.__table__)
pin_tokens = cast(Table, PinToken.__table__)
mail_outbox = cast(Table, OutboxMail.__table__)

# What a kiosk account may do, one column each (the CLI names them in sip2d.cli.account).
PERMISSION_COLUMNS = tuple(c.name for c in kiosk_accounts.c if c.name.startswith("can_"))


class DemoRecord(Base):
    """A row that ``sip2d demo`` created, so demo data is recognisable as such (issue #17).

    ``sip2d demo`` refuses a database holding patrons, items, kiosk accounts or loan policies
    that are not listed here, and ``--reset`` deletes only the listed rows (and the loans, holds
    and fees hanging off them), never a site's own record that happens to share a demo barcode.
    """

    __tablename__ = "demo_records"

    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    row_id: Mapped[int] = mapped_column(Integer, primary_key=True)


demo_records = cast(Table, DemoRecord.__table__)
