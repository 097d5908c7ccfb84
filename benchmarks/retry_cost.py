"""What recognising retried transactions adds to a checkout and a checkin.

Each round lends and returns the same items in one write transaction per request, through
:func:`sip2d.circulation.retries.answer_once`, once with a retry window (a key lock on
PostgreSQL, a lookup, and the reply kept) and once with the window at 0 (the transaction
alone). Rounds alternate between the two so both see the same machine; the figures are the
median cost per request and their ratio.

    .venv/bin/python benchmarks/retry_cost.py [--url URL] [--items N] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, insert

from sip2d.circulation import retries, rules
from sip2d.config import DatabaseConfig
from sip2d.protocol import CheckinResponse, CheckoutResponse, Message
from sip2d.storage.engine import make_engine
from sip2d.storage.migrate import upgrade
from sip2d.storage.models import items, kiosk_accounts, patrons
from sip2d.storage.queries import get_account_by_login
from sip2d.storage.records import KioskAccountRecord

PATRON = "B0001"


def seed(engine: Engine, count: int) -> None:
    with engine.execution_options(sqlite_write=True).begin() as conn:
        conn.execute(insert(kiosk_accounts).values(login="bench", password_hash="x"))
        conn.execute(insert(patrons).values(barcode=PATRON, name="Bench Patron", loan_limit=10**6))
        for number in range(count):
            conn.execute(insert(items).values(barcode=f"I{number:05d}", title=f"Title {number}"))


def request(
    c: Connection,
    terminal: rules.Terminal,
    account: KioskAccountRecord,
    kind: str,
    barcode: str,
    now: datetime,
    window: timedelta,
) -> Message:
    """One 11 or 09 as the daemon's handler runs it, with a minimal response."""
    key = retries.retry_key(kind, account, PATRON if kind == "11" else "", barcode, now)

    def apply() -> retries.Applied:
        if kind == "11":
            lent = rules.checkout(c, terminal, PATRON, barcode, now)
            reply: Message = CheckoutResponse(
                ok=lent.ok,
                transaction_date=now,
                institution_id="MAIN",
                patron_identifier=PATRON,
                item_identifier=barcode,
            )
            return retries.Applied(reply, lent.ok, retries.open_loan_id(c, lent.item))
        back = rules.checkin(c, terminal, barcode, now)
        reply = CheckinResponse(
            ok=back.ok,
            transaction_date=now,
            institution_id="MAIN",
            item_identifier=barcode,
            permanent_location="",
        )
        return retries.Applied(reply, True, retries.latest_loan_id(c, back.item))

    return retries.answer_once(c, key, now, window, apply)[0]


def one_round(engine: Engine, count: int, window: timedelta, start: datetime) -> float:
    """Seconds per request for ``count`` checkouts then ``count`` checkins."""
    writer = engine.execution_options(sqlite_write=True)
    with writer.connect() as conn:
        account = get_account_by_login(conn, "bench")
    assert account is not None
    terminal = rules.Terminal(account.id, account.login, "")
    began = time.perf_counter()
    for kind in ("11", "09"):
        for number in range(count):
            now = start + timedelta(seconds=number)
            with writer.begin() as conn:
                reply = request(conn, terminal, account, kind, f"I{number:05d}", now, window)
                assert getattr(reply, "ok", False)
    return (time.perf_counter() - began) / (2 * count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="", help="database URL (default: a temporary SQLite)")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(DatabaseConfig(url=url))
        seed(engine, args.items)
        with_window: list[float] = []
        without: list[float] = []
        # Each round moves on by a day, so no round's replies are retries of the last one's.
        start = datetime(2030, 1, 1)
        for number in range(args.rounds):
            day = timedelta(days=2 * number)
            without.append(one_round(engine, args.items, timedelta(0), start + day))
            with_window.append(
                one_round(engine, args.items, timedelta(minutes=2), start + day + timedelta(days=1))
            )
        engine.dispose()
    base, retry = statistics.median(without), statistics.median(with_window)
    print(f"{engine.dialect.name}: {args.items} checkouts + {args.items} checkins, median of "
          f"{args.rounds} alternating rounds")  # fmt: skip
    print(f"per request without retry recognition: {base * 1e6:9.1f} us")
    print(f"per request with retry recognition:    {retry * 1e6:9.1f} us")
    print(f"ratio: {retry / base:.2f}")


if __name__ == "__main__":
    main()
