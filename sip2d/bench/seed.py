"""Loading the benchmark library into a migrated database, fast enough for a million patrons.

Two costs dominate a naive seed: argon2 (a production-cost hash takes ~30 ms, so a million
PINs would take hours) and one INSERT per row. Both are avoided honestly:

* Every patron's PIN comes from the small table :data:`~sip2d.bench.dataset.BENCH_PINS`, and
  each distinct PIN is hashed once, on a thread pool (argon2-cffi releases the GIL), with the
  configured pepper and argon2 cost. All patrons who share a PIN then share that one record,
  exactly as if each had been hashed with the same salt: argon2 is deterministic given PIN,
  salt and parameters. What the daemon does per patron is unchanged: it reads that patron's
  record and runs one full verification. What differs from production is only that a stolen
  copy of this database would show which patrons share a PIN, which is why this is bench data
  and nothing else. ``unique_salts=True`` hashes every patron separately (cores x ~30 patrons
  a second) for anyone who wants the production layout exactly.
* Rows go in as batches of :data:`BATCH` rows, one transaction per batch: an ``executemany``
  on SQLite (its prepared-statement loop), ``COPY`` on PostgreSQL (several times faster than
  any INSERT form).

Seeding refuses a database that already holds bench data: adding a second library on top of
the first would make the barcodes ambiguous and the figures meaningless.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Protocol

from sqlalchemy import Engine, Table, insert, select

from sip2d.bench.dataset import (
    BENCH_PINS,
    LOCATION,
    Dataset,
    item_barcode,
    patron_barcode,
    patron_pin,
)
from sip2d.storage.models import NOT_BLOCKED, items, kiosk_accounts, patrons

BATCH: Final = 20_000
MEDIA_TYPES: Final = ("001", "001", "001", "006", "003")


class Hasher(Protocol):
    def hash(self, secret: str) -> str: ...


class AlreadySeeded(Exception):
    """The database already holds benchmark data (or the kiosk login is taken)."""


@dataclass(frozen=True)
class SeedReport:
    """What the seed wrote; printed by ``sip2d bench seed``."""

    patrons: int
    items: int
    kiosk_login: str
    distinct_hashes: int
    seconds: float

    def lines(self) -> list[str]:
        first, last = patron_barcode(0), patron_barcode(self.patrons - 1)
        out = [f"patrons: {self.patrons:,} (barcodes {first}..{last}, bench PINs)"]
        if self.items:
            last_item = item_barcode(self.items - 1)
            out.append(f"items:   {self.items:,} (barcodes {item_barcode(0)}..{last_item})")
        else:
            out.append("items:   0")
        out.append(f"kiosk account: {self.kiosk_login} (location {LOCATION})")
        out.append(
            f"PIN hashes: {self.distinct_hashes:,} argon2 records computed; "
            f"seeded in {self.seconds:.1f} s"
        )
        return out


def hash_workers() -> int:
    return max(os.cpu_count() or 1, 1)


def hash_distinct_pins(hasher: Hasher, pins: Sequence[str] = BENCH_PINS) -> dict[str, str]:
    """One record per distinct PIN, computed in parallel."""
    with ThreadPoolExecutor(hash_workers(), "bench-hash") as pool:
        return dict(zip(pins, pool.map(hasher.hash, pins), strict=True))


def _batches(count: int, size: int = BATCH) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


def _patron_rows(indexes: range, records: list[str], expires: date) -> list[dict[str, Any]]:
    return [
        {
            "barcode": patron_barcode(i),
            "name": f"Bench Patron {i + 1}",
            "email": "",
            "phone": "",
            "address": "",
            "language": "000",
            "expires_on": expires,
            "blocked": False,
            "block_reason": "",
            "block_source": NOT_BLOCKED,
            "fine_balance_cents": 0,
            "loan_limit": None,
            "profile": "adult",
            "pin_hash": record,
            "pin_must_change": False,
            "pin_failures": 0,
        }
        for i, record in zip(indexes, records, strict=True)
    ]


def _item_rows(indexes: range) -> list[dict[str, Any]]:
    return [
        {
            "barcode": item_barcode(j),
            "title": f"Bench Title {j + 1}",
            "author": "Bench Author",
            "call_number": f"B {j + 1}",
            "media_type": MEDIA_TYPES[j % len(MEDIA_TYPES)],
            "permanent_location": LOCATION,
            "current_location": LOCATION,
            "circulation_status": "03",
            "security_marker": "00",
            "holding_library": LOCATION,
            "properties": "",
            "checkout_fee_cents": 0,
        }
        for j in indexes
    ]


def _insert(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> None:
    """One batch in one transaction, through the driver's own bulk path.

    SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself, so the
    rows go straight to the driver: ``COPY`` on PostgreSQL, ``executemany`` on SQLite (with the
    values in the forms SQLAlchemy itself stores: ISO dates, 0/1 booleans).
    """
    if not rows:
        return
    columns = list(rows[0])
    quoted = ", ".join(f'"{name}"' for name in columns)
    with engine.begin() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        if engine.dialect.name == "postgresql":
            with driver.cursor().copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([row[name] for name in columns])
            return
        if engine.dialect.name == "sqlite":
            marks = ", ".join("?" for _ in columns)
            driver.executemany(
                f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})',
                [tuple(_sqlite_value(row[name]) for name in columns) for row in rows],
            )
            return
        conn.execute(insert(table), rows)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def check_empty(engine: Engine, kiosk_login: str) -> None:
    """Refuse a database that already holds bench patrons or the kiosk login."""
    with engine.connect() as conn:
        taken = conn.execute(
            select(patrons.c.id).where(patrons.c.barcode == patron_barcode(0))
        ).first()
        if taken is not None:
            raise AlreadySeeded(
                f"the database already holds bench patrons ({patron_barcode(0)}...); "
                "seed a fresh database"
            )
        login_taken = conn.execute(
            select(kiosk_accounts.c.id).where(kiosk_accounts.c.login == kiosk_login)
        ).first()
        if login_taken is not None:
            raise AlreadySeeded(f"kiosk account {kiosk_login!r} already exists")


def seed_bench(
    engine: Engine,
    hasher: Hasher,
    dataset: Dataset,
    *,
    kiosk_login: str,
    kiosk_password: str,
    institution_id: str,
    unique_salts: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> SeedReport:
    """Write ``dataset`` and one kiosk account; returns what was written.

    ``progress(table, done, total)`` is called after every batch.
    """
    started = time.perf_counter()
    check_empty(engine, kiosk_login)
    expires = date(date.today().year + 10, 1, 1)
    with ThreadPoolExecutor(hash_workers(), "bench-hash") as pool:
        kiosk_future = pool.submit(hasher.hash, kiosk_password)
        if unique_salts:
            distinct = dataset.patrons
        else:
            by_pin = dict(zip(BENCH_PINS, pool.map(hasher.hash, BENCH_PINS), strict=True))
            distinct = len(by_pin)
        with engine.begin() as conn:
            conn.execute(
                insert(kiosk_accounts).values(
                    login=kiosk_login,
                    password_hash=kiosk_future.result(),
                    institution_id=institution_id,
                    location_code=LOCATION,
                    can_block_patron=True,
                    can_enable_patron=True,
                    can_item_status=True,
                )
            )
        for batch in _batches(dataset.patrons):
            pins = [patron_pin(i) for i in batch]
            if unique_salts:
                records = list(pool.map(hasher.hash, pins))
            else:
                records = [by_pin[pin] for pin in pins]
            _insert(engine, patrons, _patron_rows(batch, records, expires))
            if progress is not None:
                progress("patrons", batch.stop, dataset.patrons)
    for batch in _batches(dataset.items):
        _insert(engine, items, _item_rows(batch))
        if progress is not None:
            progress("items", batch.stop, dataset.items)
    return SeedReport(
        patrons=dataset.patrons,
        items=dataset.items,
        kiosk_login=kiosk_login,
        distinct_hashes=distinct,
        seconds=time.perf_counter() - started,
    )
