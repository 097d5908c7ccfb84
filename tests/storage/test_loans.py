"""The loan primitives, including the one-open-loan rule under a real concurrent race."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from sip2d.storage.errors import ItemAlreadyOnLoan
from sip2d.storage.loans import close_loan, open_loan, renew_loan
from sip2d.storage.models import circulation_journal, loans
from sip2d.storage.queries import open_loan_of_item, open_loans_of_patron
from tests.storage.factories import add_account, add_item, add_patron

NOW = datetime(2025, 3, 4, 10, 0, 0)
DUE = NOW + timedelta(days=21)


def test_open_renew_close(engine: Engine) -> None:
    patron = add_patron(engine, "p1")
    item = add_item(engine, "i1", title="Dune")
    account = add_account(engine, "kiosk")
    writer = engine.execution_options(sqlite_write=True)
    with writer.begin() as conn:
        loan_id = open_loan(conn, item, patron, account, NOW, DUE)
    with writer.begin() as conn:
        loan = open_loan_of_item(conn, item)
        assert loan is not None and loan.id == loan_id
        assert (loan.patron_id, loan.account_id, loan.due_at, loan.offline) == (
            patron,
            account,
            DUE,
            False,
        )
        renewed = renew_loan(conn, loan_id, DUE + timedelta(days=21))
        assert renewed is not None
        assert (renewed.renewals, renewed.due_at) == (1, DUE + timedelta(days=21))
        closed = close_loan(conn, item, NOW + timedelta(days=2))
        assert closed is not None and closed.returned_at == NOW + timedelta(days=2)
        # Nothing open any more: a second close and a renewal find nothing.
        assert close_loan(conn, item, NOW) is None
        assert renew_loan(conn, loan_id, DUE) is None
        # Once returned, the item can go out again: the unique index covers open loans only.
        again = open_loan(conn, item, patron, None, NOW + timedelta(days=3), DUE, offline=True)
        assert again != loan_id
        assert [pl.id for pl in open_loans_of_patron(conn, patron)] == [again]


def test_refusal_leaves_the_callers_transaction_usable(engine: Engine) -> None:
    first, second = add_patron(engine, "p1"), add_patron(engine, "p2")
    item = add_item(engine, "i1")
    writer = engine.execution_options(sqlite_write=True)
    with writer.begin() as conn:
        open_loan(conn, item, first, None, NOW, DUE)
    with writer.begin() as conn:
        with pytest.raises(ItemAlreadyOnLoan) as caught:
            open_loan(conn, item, second, None, NOW, DUE)
        assert caught.value.item_id == item
        # The refused checkout is still journalled in the same transaction, and commits.
        conn.execute(
            circulation_journal.insert().values(
                at=NOW, kind="checkout", ok=False, item_barcode="i1"
            )
        )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(circulation_journal)).scalar() == 1
        holder = open_loan_of_item(conn, item)
        assert holder is not None and holder.patron_id == first


def test_a_missing_item_is_not_reported_as_on_loan(engine: Engine) -> None:
    patron = add_patron(engine, "p1")
    with (
        pytest.raises(IntegrityError),
        engine.execution_options(sqlite_write=True).begin() as conn,
    ):
        open_loan(conn, 424242, patron, None, NOW, DUE)


def test_one_open_loan_per_item_under_a_concurrent_race(engine: Engine) -> None:
    threads, item_count = 8, 25
    patrons = [add_patron(engine, f"p{n}") for n in range(threads)]
    item_ids = [add_item(engine, f"i{n}") for n in range(item_count)]
    writer = engine.execution_options(sqlite_write=True)
    start = threading.Barrier(threads)
    wins: Counter[int] = Counter()
    refusals: Counter[int] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def kiosk(index: int) -> None:
        order = list(item_ids)
        random.Random(index).shuffle(order)
        try:
            start.wait()
            for item in order:
                try:
                    # One transaction per checkout, each thread with its own connection.
                    with writer.begin() as conn:
                        open_loan(conn, item, patrons[index], None, NOW, DUE)
                except ItemAlreadyOnLoan:
                    with lock:
                        refusals[item] += 1
                else:
                    with lock:
                        wins[item] += 1
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)

    workers = [threading.Thread(target=kiosk, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert all(wins[item] == 1 for item in item_ids), wins
    assert all(refusals[item] == threads - 1 for item in item_ids), refusals
    with engine.connect() as conn:
        per_item = conn.execute(
            select(loans.c.item_id, func.count())
            .where(loans.c.returned_at.is_(None))
            .group_by(loans.c.item_id)
        ).all()
    assert sorted(per_item) == [(item, 1) for item in sorted(item_ids)]
