"""Typed read helpers and loan policy resolution, on both engines."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, insert

from sip2d.storage.loans import open_loan
from sip2d.storage.models import fees, holds, loan_policies
from sip2d.storage.policies import DEFAULT_POLICY, resolve_loan_policy
from sip2d.storage.queries import (
    count_open_loans,
    fees_of_patron,
    get_account_by_login,
    get_item,
    get_item_by_barcode,
    get_patron,
    get_patron_by_barcode,
    holds_of_patron,
    holds_on_item,
    open_loans_of_patron,
    patron_standing,
)
from tests.storage.factories import add_account, add_item, add_patron

NOW = datetime(2025, 3, 4, 10, 0, 0)


def test_records_by_barcode_and_id(engine: Engine) -> None:
    pid = add_patron(
        engine, "2000001", name="Ada", expires_on=date(2025, 1, 1), pin_hash="$sip2d$secret-hash"
    )
    iid = add_item(engine, "3000001", title="Dune", media_type="001")
    add_account(engine, "kiosk", password_hash="$sip2d$other-hash", allowed_networks="10.0.0.0/8, ")
    with engine.connect() as conn:
        patron = get_patron_by_barcode(conn, "2000001")
        assert patron is not None and patron == get_patron(conn, pid)
        assert (patron.name, patron.profile, patron.language, patron.blocked) == (
            "Ada",
            "adult",
            "000",
            False,
        )
        assert patron.is_expired(date(2025, 1, 2)) and not patron.is_expired(date(2025, 1, 1))
        item = get_item_by_barcode(conn, "3000001")
        assert item is not None and item == get_item(conn, iid)
        assert (item.title, item.circulation_status) == ("Dune", "03")
        account = get_account_by_login(conn, "kiosk")
        assert account is not None and account.networks == ["10.0.0.0/8"]
        assert get_patron_by_barcode(conn, "nope") is None
        assert get_item_by_barcode(conn, "nope") is None
        assert get_account_by_login(conn, "nope") is None
    # Hashes stay out of reprs, so a logged record cannot carry one.
    assert "secret-hash" not in repr(patron)
    assert "other-hash" not in repr(account)


def test_patron_lists(engine: Engine) -> None:
    pid = add_patron(engine, "p1")
    other = add_patron(engine, "p2")
    late, soon = add_item(engine, "late", title="Late"), add_item(engine, "soon", title="Soon")
    with engine.execution_options(sqlite_write=True).begin() as conn:
        open_loan(conn, soon, pid, None, NOW, NOW + timedelta(days=20))
        open_loan(conn, late, pid, None, NOW - timedelta(days=30), NOW - timedelta(days=2))
        conn.execute(
            insert(fees),
            [
                {"patron_id": pid, "amount_cents": 300, "paid_cents": 0, "created_at": NOW},
                {"patron_id": pid, "amount_cents": 200, "paid_cents": 200, "created_at": NOW},
                {"patron_id": other, "amount_cents": 900, "paid_cents": 0, "created_at": NOW},
            ],
        )
        conn.execute(
            insert(holds),
            [
                {"patron_id": other, "item_id": late, "created_at": NOW, "status": "waiting"},
                {"patron_id": pid, "item_id": late, "created_at": NOW, "status": "waiting"},
                {"patron_id": pid, "item_id": late, "created_at": NOW, "status": "cancelled"},
                {
                    "patron_id": other,
                    "item_id": late,
                    "created_at": NOW + timedelta(hours=1),
                    "status": "ready",
                },
            ],
        )
    with engine.connect() as conn:
        loans = open_loans_of_patron(conn, pid)
        assert [(pl.item_barcode, pl.title) for pl in loans] == [("late", "Late"), ("soon", "Soon")]
        assert [pl.is_overdue(NOW) for pl in loans] == [True, False]
        assert count_open_loans(conn, pid) == 2 and count_open_loans(conn, other) == 0

        # The counts 23 uses: one overdue now; both overdue once the second is due.
        def counts(barcode: str, now: datetime) -> tuple[int, int]:
            standing = patron_standing(conn, barcode, now)
            assert standing is not None
            return standing.charged, standing.overdue

        assert counts("p1", NOW) == (2, 1)
        assert counts("p1", NOW + timedelta(days=21)) == (2, 2)
        assert counts("p2", NOW) == (0, 0)
        unpaid = fees_of_patron(conn, pid)
        assert [(f.amount_cents, f.outstanding_cents) for f in unpaid] == [(300, 300)]
        assert len(fees_of_patron(conn, pid, unpaid_only=False)) == 2
        assert [h.status for h in holds_of_patron(conn, pid)] == ["waiting"]
        # Queue order: the hold on the shelf first, then the oldest.
        queue = holds_on_item(conn, late)
        assert [(h.patron_id, h.status) for h in queue] == [
            (other, "ready"),
            (other, "waiting"),
            (pid, "waiting"),
        ]


def test_loan_policy_most_specific_match_wins(engine: Engine) -> None:
    with engine.connect() as conn:
        assert resolve_loan_policy(conn, "001", "adult") == DEFAULT_POLICY
    rows: list[dict[str, object]] = [
        {"media_type": None, "profile": None, "loan_days": 21},
        {"media_type": None, "profile": "child", "loan_days": 14},
        {"media_type": "005", "profile": None, "loan_days": 7},
        {"media_type": "005", "profile": "child", "loan_days": 3},
    ]
    with engine.begin() as conn:
        conn.execute(insert(loan_policies), rows)
    with engine.connect() as conn:

        def days(media: str, profile: str) -> int:
            return resolve_loan_policy(conn, media, profile).loan_days

        assert days("001", "adult") == 21
        assert days("001", "child") == 14
        assert days("005", "adult") == 7
        assert days("005", "child") == 3
        policy = resolve_loan_policy(conn, "005", "child")
        assert (policy.media_type, policy.profile, policy.renewal_limit) == ("005", "child", 2)


def test_no_catch_all_row_falls_back_to_the_default(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(loan_policies).values(media_type="005", profile=None, loan_days=7))
    with engine.connect() as conn:
        assert resolve_loan_policy(conn, "001", "adult") == DEFAULT_POLICY
        assert resolve_loan_policy(conn, "005", "adult").loan_days == 7


def test_patron_standing_agrees_with_the_separate_queries(engine: Engine) -> None:
    """One statement for 23: the same patron and policy as the lookups it replaces."""
    add_patron(engine, "adult1")
    add_patron(engine, "child1", profile="child")

    def check(conn: Connection) -> None:
        assert patron_standing(conn, "nobody", NOW) is None
        for barcode in ("adult1", "child1"):
            standing = patron_standing(conn, barcode, NOW)
            patron = get_patron_by_barcode(conn, barcode)
            assert standing is not None and patron is not None
            assert standing.patron == patron
            assert standing.policy == resolve_loan_policy(conn, "", patron.profile)

    with engine.connect() as conn:
        check(conn)  # no policy rows: the default
        assert patron_standing(conn, "adult1", NOW).policy == DEFAULT_POLICY  # type: ignore[union-attr]
    with engine.begin() as conn:
        # A media rule (not for 23, which lends nothing) and the children's rule.
        conn.execute(insert(loan_policies).values(media_type="005", profile=None, loan_days=7))
        conn.execute(
            insert(loan_policies).values(profile="child", loan_days=14, max_loans=5),
        )
    with engine.connect() as conn:
        check(conn)  # adult: still the default (no catch-all row); child: its own rule
        child = patron_standing(conn, "child1", NOW)
        assert child is not None and (child.policy.loan_days, child.policy.max_loans) == (14, 5)
    with engine.begin() as conn:
        conn.execute(insert(loan_policies).values(media_type=None, profile=None, loan_days=28))
    with engine.connect() as conn:
        check(conn)  # adult: the catch-all row; child: still the more specific one
        adult = patron_standing(conn, "adult1", NOW)
        assert adult is not None and adult.policy.loan_days == 28
