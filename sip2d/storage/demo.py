"""A small, realistic demo library: the data behind ``sip2d demo`` and ``sip2d serve --demo``.

Every case a self-check kiosk meets on day one is here once: patrons in good standing, one
blocked by staff, one over the fine limit, one whose card has expired, one with no PIN yet;
items of several media types, one on loan, one overdue, one waiting on the hold shelf for
someone else, one with a rental fee; and a kiosk account that may use every message. Barcodes
are fixed (patrons 2000001.., items 3000001.., kiosk login ``kiosk``) because the conformance
suite's demo profile and the README refer to them. The PINs and the kiosk password are public
by design: they exist to be typed into a test kiosk, and are printed by ``sip2d demo``. Never
seed a production database.

Dates are relative to ``now`` so the overdue loan is always overdue and the expired card always
expired. Every row seeded is listed in ``demo_records``, which is what makes demo data
recognisable: seeding refuses a database holding any patron, item, kiosk account or loan policy
not listed there, is idempotent (nothing happens when the demo data is present), and ``reset``
deletes only the listed rows, with what hangs off them, before seeding afresh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Select, Table, delete, func, insert, or_, select, update

from sip2d.storage.errors import StorageError
from sip2d.storage.models import (
    BLOCKED_BY_STAFF,
    NOT_BLOCKED,
    PERMISSION_COLUMNS,
    demo_records,
    fees,
    holds,
    items,
    kiosk_accounts,
    loan_policies,
    loans,
    patrons,
)
from sip2d.storage.models import payments as payments_table

KIOSK_LOGIN = "kiosk"
KIOSK_PASSWORD = "sip2demo"
INSTITUTION_ID = "MAIN"
# The branch the demo kiosk stands in: the same code as the items' home location, so a
# checkin at the demo kiosk shelves the item here instead of routing it to another branch.
KIOSK_LOCATION = "MAIN"
# The demo kiosk may do everything, off-line transactions included, so that every message can
# be tried against the demo library.
KIOSK_PERMISSIONS = dict.fromkeys(PERMISSION_COLUMNS, True)


class Hasher(Protocol):
    def hash(self, secret: str) -> str: ...


@dataclasses.dataclass(frozen=True)
class DemoPatron:
    barcode: str
    name: str
    pin: str | None = dataclasses.field(repr=False)
    note: str
    profile: str = "adult"
    language: str = "001"
    blocked: bool = False
    block_reason: str = ""
    block_source: str = NOT_BLOCKED
    expires_in_days: int = 730


@dataclasses.dataclass(frozen=True)
class DemoItem:
    barcode: str
    title: str
    author: str
    media_type: str
    call_number: str
    note: str
    circulation_status: str = "03"
    checkout_fee_cents: int = 0


PATRONS: Sequence[DemoPatron] = (
    DemoPatron("2000001", "Ada Lovelace", "3917", "in good standing"),
    DemoPatron("2000002", "Ben Okafor", "5203", "has 3000006 on loan"),
    DemoPatron(
        "2000003",
        "Chloé Martin",
        "7461",
        "blocked (card reported lost)",
        language="002",
        blocked=True,
        block_reason="Card reported lost",
        block_source=BLOCKED_BY_STAFF,
    ),
    DemoPatron("2000004", "Dmitri Ivanov", "2958", "owes 12.50 and has 3000008 overdue"),
    DemoPatron("2000005", "Eve Marsh", "6184", "card expired 30 days ago", expires_in_days=-30),
    DemoPatron("2000006", "Farah Haddad", "4730", "child; 3000007 waits for her", profile="child"),
    DemoPatron("2000007", "Gus Newcard", None, "no PIN yet (must set one at the desk)"),
)

ITEMS: Sequence[DemoItem] = (
    DemoItem("3000001", "The Left Hand of Darkness", "Le Guin, Ursula K.", "001", "SF LEG",
             "book, available"),
    DemoItem("3000002", "Kindred", "Butler, Octavia E.", "001", "F BUT", "book, available"),
    DemoItem("3000003", "National Geographic (March)", "", "002", "MAG NAT",
             "magazine, available"),
    DemoItem("3000004", "Spirited Away", "Miyazaki, Hayao", "005", "DVD SPI",
             "video, 7-day loan"),
    DemoItem("3000005", "Kind of Blue", "Davis, Miles", "006", "CD DAV", "CD, available"),
    DemoItem("3000006", "Dune", "Herbert, Frank", "001", "SF HER",
             "on loan to 2000002; 2000001 is waiting for it", circulation_status="04"),
    DemoItem("3000007", "Piranesi", "Clarke, Susanna", "001", "F CLA",
             "on the hold shelf for 2000006", circulation_status="08"),
    DemoItem("3000008", "The Name of the Rose", "Eco, Umberto", "001", "F ECO",
             "overdue, on loan to 2000004", circulation_status="04"),
    DemoItem("3000009", "Les Misérables", "Hugo, Victor", "001", "F HUG",
             "book, available (accented title)"),
    DemoItem("3000010", "Learning Python (with CD)", "Lutz, Mark", "009", "005.133 LUT",
             "book with CD, 1.00 rental fee", checkout_fee_cents=100),
)  # fmt: skip

# Seeded only into an empty loan_policies table: policies are site-wide rules, and a demo must
# not rewrite a site's own.
POLICIES: Sequence[dict[str, Any]] = (
    {"media_type": None, "profile": None, "loan_days": 21, "renewal_limit": 2, "max_loans": 50,
     "fine_threshold_cents": 1000, "daily_fine_cents": 25},
    {"media_type": "005", "profile": None, "loan_days": 7, "renewal_limit": 1, "max_loans": 50,
     "fine_threshold_cents": 1000, "daily_fine_cents": 100},
    {"media_type": None, "profile": "child", "loan_days": 21, "renewal_limit": 2,
     "max_loans": 10, "fine_threshold_cents": 500, "daily_fine_cents": 0},
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DemoData:
    """What was seeded, for printing. Holds the public demo secrets (hidden from repr)."""

    created: bool
    kiosk_login: str
    kiosk_password: str = dataclasses.field(repr=False)
    institution_id: str
    patrons: Sequence[DemoPatron]
    items: Sequence[DemoItem]

    def describe(self) -> list[str]:
        """Human-readable lines: the kiosk login, every patron with PIN, every item."""
        lines = [
            f"kiosk account: login {self.kiosk_login!r}, password {self.kiosk_password!r}, "
            f"institution {self.institution_id!r}",
            "patrons (barcode  PIN   name: situation):",
        ]
        for p in self.patrons:
            lines.append(f"  {p.barcode}  {p.pin or '----'}  {p.name}: {p.note}")
        lines.append("items (barcode  media  title: situation):")
        for i in self.items:
            lines.append(f"  {i.barcode}  {i.media_type}    {i.title}: {i.note}")
        return lines


def demo_data(created: bool, institution_id: str = INSTITUTION_ID) -> DemoData:
    return DemoData(created, KIOSK_LOGIN, KIOSK_PASSWORD, institution_id, PATRONS, ITEMS)


class DemoRefused(StorageError):
    """The database holds data that ``sip2d demo`` did not create; the demo leaves it alone."""


# The tables whose rows are a library's own records. Loans, holds, fees and payments hang off
# them, so a database whose rows here are all demo rows holds only demo data.
OWNED_TABLES: Sequence[Table] = (patrons, items, kiosk_accounts, loan_policies)


def seed_demo(
    engine: Engine,
    hasher: Hasher,
    *,
    institution_id: str = INSTITUTION_ID,
    now: datetime | None = None,
    reset: bool = False,
) -> DemoData:
    """Seed the demo library into a migrated database; see the module docstring.

    Raises :class:`DemoRefused` when the database holds any patron, item, kiosk account or loan
    policy that an earlier seeding did not record in ``demo_records``, or (without ``reset``)
    when recorded demo data is incomplete, so the login printed is always one that exists.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    # Hash before the transaction: argon2 is slow and need not hold the write lock.
    pin_hashes = {p.barcode: hasher.hash(p.pin) for p in PATRONS if p.pin is not None}
    password_hash = hasher.hash(KIOSK_PASSWORD)
    with engine.execution_options(sqlite_write=True).begin() as conn:
        foreign = _foreign_rows(conn)
        if foreign:
            raise DemoRefused(
                f"refusing: this database holds data that `sip2d demo` did not create "
                f"({', '.join(foreign)}); the demo runs only on an empty database or its own "
                "(point [database] url at a new file and run `sip2d db upgrade` first)"
            )
        recorded = conn.execute(
            select(func.count())
            .select_from(demo_records)
            .where(demo_records.c.table_name != loan_policies.name)
        ).scalar_one()
        if recorded and not reset:
            missing = _missing_demo_rows(conn)
            if missing:
                raise DemoRefused(
                    f"the demo data is incomplete ({', '.join(missing)} deleted or changed); "
                    "run `sip2d demo --reset` to restore it"
                )
            return demo_data(False, institution_id)
        if reset:
            _delete_demo_rows(conn)
        _insert(conn, now, pin_hashes, password_hash, institution_id)
    return demo_data(True, institution_id)


def _recorded(table: Table) -> Select[tuple[int]]:
    return select(demo_records.c.row_id).where(demo_records.c.table_name == table.name)


def _foreign_rows(conn: Connection) -> list[str]:
    """``"N patrons"`` for every owned table with rows the demo did not create."""
    found = []
    for table in OWNED_TABLES:
        count = conn.execute(
            select(func.count()).select_from(table).where(table.c.id.not_in(_recorded(table)))
        ).scalar_one()
        if count:
            found.append(f"{count} {table.name}")
    return found


def _missing_demo_rows(conn: Connection) -> list[str]:
    """Demo patrons, items and the kiosk account that are no longer as seeded."""
    missing = []
    for table, key, wanted in (
        (patrons, patrons.c.barcode, [p.barcode for p in PATRONS]),
        (items, items.c.barcode, [i.barcode for i in ITEMS]),
        (kiosk_accounts, kiosk_accounts.c.login, [KIOSK_LOGIN]),
    ):
        present = set(conn.execute(select(key).where(table.c.id.in_(_recorded(table)))).scalars())
        missing += [f"{table.name} {value}" for value in wanted if value not in present]
    return missing


def _record(conn: Connection, table: Table, ids: Iterable[int]) -> None:
    rows = [{"table_name": table.name, "row_id": row_id} for row_id in ids]
    if rows:
        conn.execute(insert(demo_records), rows)


def _delete_demo_rows(conn: Connection) -> None:
    """Delete the recorded demo rows and everything that hangs off them; nothing else."""
    patron_ids = _recorded(patrons)
    item_ids = _recorded(items)
    account_ids = _recorded(kiosk_accounts)
    demo_fees = select(fees.c.id).where(
        or_(fees.c.patron_id.in_(patron_ids), fees.c.item_id.in_(item_ids))
    )
    conn.execute(
        delete(payments_table).where(
            or_(payments_table.c.patron_id.in_(patron_ids), payments_table.c.fee_id.in_(demo_fees))
        )
    )
    conn.execute(delete(fees).where(fees.c.id.in_(demo_fees)))
    conn.execute(
        delete(holds).where(or_(holds.c.patron_id.in_(patron_ids), holds.c.item_id.in_(item_ids)))
    )
    conn.execute(
        delete(loans).where(or_(loans.c.patron_id.in_(patron_ids), loans.c.item_id.in_(item_ids)))
    )
    # Other data that names the demo kiosk keeps its rows, without the account.
    conn.execute(update(loans).where(loans.c.account_id.in_(account_ids)).values(account_id=None))
    conn.execute(
        update(payments_table)
        .where(payments_table.c.account_id.in_(account_ids))
        .values(account_id=None)
    )
    conn.execute(delete(patrons).where(patrons.c.id.in_(patron_ids)))
    conn.execute(delete(items).where(items.c.id.in_(item_ids)))
    conn.execute(delete(kiosk_accounts).where(kiosk_accounts.c.id.in_(account_ids)))
    conn.execute(delete(demo_records).where(demo_records.c.table_name != loan_policies.name))


def _insert(
    conn: Connection,
    now: datetime,
    pin_hashes: dict[str, str],
    password_hash: str,
    institution_id: str,
) -> None:
    today = now.date()
    for p in PATRONS:
        conn.execute(
            insert(patrons).values(
                barcode=p.barcode,
                name=p.name,
                email=f"patron{p.barcode}@example.org",
                language=p.language,
                expires_on=today + timedelta(days=p.expires_in_days),
                blocked=p.blocked,
                block_reason=p.block_reason,
                block_source=p.block_source,
                profile=p.profile,
                pin_hash=pin_hashes.get(p.barcode),
                pin_must_change=p.pin is None,
            )
        )
    for i in ITEMS:
        conn.execute(
            insert(items).values(
                barcode=i.barcode,
                title=i.title,
                author=i.author,
                media_type=i.media_type,
                call_number=i.call_number,
                permanent_location="MAIN",
                current_location="HOLDSHELF" if i.circulation_status == "08" else "MAIN",
                holding_library=institution_id,
                circulation_status=i.circulation_status,
                checkout_fee_cents=i.checkout_fee_cents,
            )
        )
    conn.execute(
        insert(kiosk_accounts).values(
            login=KIOSK_LOGIN,
            password_hash=password_hash,
            institution_id=institution_id,
            location_code=KIOSK_LOCATION,
            **KIOSK_PERMISSIONS,
        )
    )
    if not conn.execute(select(func.count()).select_from(loan_policies)).scalar_one():
        conn.execute(insert(loan_policies), list(POLICIES))
        _record(conn, loan_policies, conn.execute(select(loan_policies.c.id)).scalars())

    pid = _ids(conn, patrons, [p.barcode for p in PATRONS])
    iid = _ids(conn, items, [i.barcode for i in ITEMS])
    aid = conn.execute(
        select(kiosk_accounts.c.id).where(kiosk_accounts.c.login == KIOSK_LOGIN)
    ).scalar_one()
    _record(conn, patrons, pid.values())
    _record(conn, items, iid.values())
    _record(conn, kiosk_accounts, [aid])
    conn.execute(
        insert(loans),
        [
            {"item_id": iid["3000006"], "patron_id": pid["2000002"], "account_id": aid,
             "checked_out_at": now - timedelta(days=11), "due_at": now + timedelta(days=10),
             "renewals": 0, "returned_at": None, "offline": False},
            {"item_id": iid["3000008"], "patron_id": pid["2000004"], "account_id": aid,
             "checked_out_at": now - timedelta(days=26), "due_at": now - timedelta(days=5),
             "renewals": 0, "returned_at": None, "offline": False},
        ],
    )  # fmt: skip
    conn.execute(
        insert(holds),
        [
            {"patron_id": pid["2000006"], "item_id": iid["3000007"], "title": "Piranesi",
             "hold_type": "2", "pickup_location": "MAIN", "created_at": now - timedelta(days=4),
             "expires_at": now + timedelta(days=7), "status": "ready"},
            {"patron_id": pid["2000001"], "item_id": iid["3000006"], "title": "Dune",
             "hold_type": "2", "pickup_location": "MAIN", "created_at": now - timedelta(days=2),
             "expires_at": None, "status": "waiting"},
        ],
    )  # fmt: skip
    demo_fees = [
        ("04", 850, "Overdue: Middlemarch (returned late)", None),
        ("03", 400, "Damaged barcode label", iid["3000008"]),
    ]
    conn.execute(
        insert(fees),
        [
            {"patron_id": pid["2000004"], "item_id": item_id, "fee_type": fee_type,
             "amount_cents": amount, "paid_cents": 0, "currency": "USD",
             "description": description, "created_at": now - timedelta(days=20)}
            for fee_type, amount, description, item_id in demo_fees
        ],
    )  # fmt: skip
    conn.execute(
        update(patrons)
        .where(patrons.c.id == pid["2000004"])
        .values(fine_balance_cents=sum(amount for _, amount, _, _ in demo_fees))
    )


def _ids(conn: Connection, table: Any, barcodes: list[str]) -> dict[str, int]:
    rows = conn.execute(select(table.c.barcode, table.c.id).where(table.c.barcode.in_(barcodes)))
    return {barcode: id_ for barcode, id_ in rows}
