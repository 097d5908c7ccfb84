"""Looking at (and setting up) the database behind a running daemon, from a test.

A response only says what the daemon claims it did; a refused request must also have changed
nothing, which only the tables can show. These helpers open their own engine on the daemon's
database (the same SQLite file or PostgreSQL schema), so what they see is what another daemon
or the staff CLI would see.

They run in a worker thread: the daemon under test lives on the test's own event loop, and a
blocking read there (waiting for a SQLite lock, say) would stall the very daemon it waits for.
The few writers set the scene the way staff would at the desk (a block, a permission, a
kiosk account); they never stand in for a request the test means to send over SIP2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import trio
from sqlalchemy import Connection, Table, create_engine, insert, select, update

from sip2d.auth.hashing import PinHasher
from sip2d.config import Config
from sip2d.storage.models import fees, holds, items, kiosk_accounts, loans, patrons, payments

T = TypeVar("T")

# The tables a refused request must leave exactly as they were. The journal and the failure
# counters are left out on purpose: a refusal is recorded there.
WATCHED: tuple[Table, ...] = (patrons, items, loans, holds, fees, payments)
# Columns that legitimately move when a PIN is checked (the failure count and lock, a hash
# upgrade) or that record only when a row was touched.
VOLATILE = frozenset({"updated_at", "pin_hash", "pin_failures", "pin_locked_until"})

Row = dict[str, Any]


async def _run(url: str, work: Callable[[Connection], T], *, write: bool = False) -> T:
    def in_thread() -> T:
        engine = create_engine(url)
        try:
            with engine.begin() if write else engine.connect() as conn:
                return work(conn)
        finally:
            engine.dispose()

    return await trio.to_thread.run_sync(in_thread)


@dataclass(frozen=True)
class Snapshot:
    """Every row of :data:`WATCHED`, keyed by table name then row id, less :data:`VOLATILE`."""

    tables: Mapping[str, Mapping[int, Row]]


async def snapshot(url: str) -> Snapshot:
    def read(conn: Connection) -> Snapshot:
        tables: dict[str, dict[int, Row]] = {}
        for table in WATCHED:
            rows = conn.execute(select(table).order_by(table.c.id)).mappings()
            tables[table.name] = {
                int(row["id"]): {k: v for k, v in row.items() if k not in VOLATILE} for row in rows
            }
        return Snapshot(tables)

    return await _run(url, read)


def changes(before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
    """What differs between two snapshots, one line per row, per table; empty when nothing.

    Returned rather than asserted so the test's own assertion (rewritten by pytest) shows it.
    """
    found: dict[str, list[str]] = {}
    for name, old in before.tables.items():
        new = after.tables[name]
        lines = [f"added {new[i]}" for i in sorted(new.keys() - old.keys())]
        lines += [f"removed {old[i]}" for i in sorted(old.keys() - new.keys())]
        for i in sorted(old.keys() & new.keys()):
            if old[i] != new[i]:
                diff = {k: (old[i].get(k), v) for k, v in new[i].items() if old[i].get(k) != v}
                lines.append(f"row {i} changed {diff}")
        if lines:
            found[name] = lines
    return found


async def patron(url: str, barcode: str) -> Row:
    """The whole ``patrons`` row (PIN failure count, lock, block and balance)."""

    def read(conn: Connection) -> Row:
        row = conn.execute(select(patrons).where(patrons.c.barcode == barcode)).mappings().one()
        return dict(row)

    return await _run(url, read)


@dataclass(frozen=True)
class LoanRow:
    """One loan as a reader of the tables sees it: by barcodes rather than ids."""

    item: str
    patron: str
    returned: bool
    offline: bool
    renewals: int


async def loans_of(
    url: str, *, item: str | None = None, patron: str | None = None
) -> list[LoanRow]:
    """Every loan (open or returned) of one item and/or one patron, oldest first."""

    def read(conn: Connection) -> list[LoanRow]:
        query = (
            select(
                items.c.barcode.label("item"),
                patrons.c.barcode.label("patron"),
                loans.c.returned_at,
                loans.c.offline,
                loans.c.renewals,
            )
            .join(items, items.c.id == loans.c.item_id)
            .join(patrons, patrons.c.id == loans.c.patron_id)
            .order_by(loans.c.id)
        )
        if item is not None:
            query = query.where(items.c.barcode == item)
        if patron is not None:
            query = query.where(patrons.c.barcode == patron)
        return [
            LoanRow(r.item, r.patron, r.returned_at is not None, bool(r.offline), r.renewals)
            for r in conn.execute(query)
        ]

    return await _run(url, read)


async def item_properties(url: str, barcode: str) -> str:
    def read(conn: Connection) -> str:
        query = select(items.c.properties).where(items.c.barcode == barcode)
        return str(conn.execute(query).scalar_one())

    return await _run(url, read)


# --- setting the scene ---------------------------------------------------------------------


async def update_patron(url: str, barcode: str, **values: object) -> None:
    """Change a patron row directly, as staff tools do (e.g. a staff block)."""

    def write(conn: Connection) -> None:
        result = conn.execute(update(patrons).where(patrons.c.barcode == barcode).values(values))
        assert result.rowcount == 1, f"no patron {barcode}"

    await _run(url, write, write=True)


async def update_account(url: str, login: str, **values: object) -> None:
    """Grant or withdraw kiosk account settings; takes effect at the account's next 93."""

    def write(conn: Connection) -> None:
        query = update(kiosk_accounts).where(kiosk_accounts.c.login == login).values(values)
        result = conn.execute(query)
        assert result.rowcount == 1, f"no kiosk account {login}"

    await _run(url, write, write=True)


async def add_account(
    url: str, config: Config, login: str, password: str, **values: object
) -> None:
    """A kiosk account with exactly the settings given (the rest are the schema defaults)."""
    password_hash = await trio.to_thread.run_sync(PinHasher.from_config(config.auth).hash, password)

    def write(conn: Connection) -> None:
        conn.execute(
            insert(kiosk_accounts).values(
                login=login,
                password_hash=password_hash,
                institution_id="MAIN",
                location_code="BRANCH1",
                **values,
            )
        )

    await _run(url, write, write=True)
