"""The demo library: what it promises the README, the conformance profile and serve --demo."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from sip2d.auth.hashing import PinHasher
from sip2d.auth.policy import PinPolicy
from sip2d.config import PinPolicyConfig
from sip2d.storage import demo
from sip2d.storage.models import fees, holds, items, kiosk_accounts, loan_policies, loans, patrons
from sip2d.storage.policies import resolve_loan_policy
from sip2d.storage.queries import (
    get_account_by_login,
    get_patron_by_barcode,
    holds_on_item,
    open_loan_of_item,
    open_loans_of_patron,
)
from tests.storage.factories import add_item, add_patron

NOW = datetime(2025, 3, 4, 10, 0, 0)


def test_demo_pins_satisfy_the_default_policy() -> None:
    policy = PinPolicy.from_config(PinPolicyConfig())
    pins = [p.pin for p in demo.PATRONS if p.pin is not None]
    assert len(pins) == 6 and len(set(pins)) == 6
    assert all(policy.check(pin) is None for pin in pins)


def test_seeded_library_has_every_case(engine: Engine, hasher: PinHasher) -> None:
    data = demo.seed_demo(engine, hasher, now=NOW)
    assert data.created
    assert "sip2demo" not in repr(data)
    with engine.connect() as conn:
        account = get_account_by_login(conn, "kiosk")
        assert account is not None and account.enabled
        assert hasher.verify(account.password_hash, demo.KIOSK_PASSWORD).ok
        for spec in demo.PATRONS:
            patron = get_patron_by_barcode(conn, spec.barcode)
            assert patron is not None, spec.barcode
            if spec.pin is None:
                assert patron.pin_hash is None and patron.pin_must_change
            else:
                assert hasher.verify(patron.pin_hash, spec.pin).ok
        blocked = get_patron_by_barcode(conn, "2000003")
        assert blocked is not None and blocked.blocked
        expired = get_patron_by_barcode(conn, "2000005")
        assert expired is not None and expired.is_expired(NOW.date())
        owing = get_patron_by_barcode(conn, "2000004")
        assert owing is not None
        owed = conn.execute(
            select(func.sum(fees.c.amount_cents - fees.c.paid_cents)).where(
                fees.c.patron_id == owing.id
            )
        ).scalar()
        assert owing.fine_balance_cents == owed == 1250
        assert (
            owing.fine_balance_cents
            > resolve_loan_policy(conn, "001", "adult").fine_threshold_cents
        )
        overdue = open_loans_of_patron(conn, owing.id)
        assert [(pl.item_barcode, pl.is_overdue(NOW)) for pl in overdue] == [("3000008", True)]

        shelf = conn.execute(select(items).where(items.c.barcode == "3000007")).one()
        queue = holds_on_item(conn, shelf.id)
        farah = get_patron_by_barcode(conn, "2000006")
        assert farah is not None
        assert [(h.patron_id, h.status) for h in queue] == [(farah.id, "ready")]
        assert shelf.circulation_status == "08"
        media = set(conn.execute(select(items.c.media_type)).scalars())
        assert {"001", "002", "005", "006", "009"} <= media
        dune = conn.execute(select(items.c.id).where(items.c.barcode == "3000006")).scalar_one()
        loan = open_loan_of_item(conn, dune)
        assert loan is not None and loan.due_at > NOW
        assert resolve_loan_policy(conn, "005", "adult").loan_days == 7


def test_seeding_twice_changes_nothing(engine: Engine, hasher: PinHasher) -> None:
    demo.seed_demo(engine, hasher, now=NOW)
    again = demo.seed_demo(engine, hasher, now=NOW)
    assert not again.created
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(patrons)).scalar() == len(demo.PATRONS)
        assert conn.execute(select(func.count()).select_from(loans)).scalar() == 2


def test_reset_restores_demo_rows(engine: Engine, hasher: PinHasher) -> None:
    demo.seed_demo(engine, hasher, now=NOW)
    with engine.begin() as conn:
        conn.execute(update(patrons).where(patrons.c.barcode == "2000001").values(blocked=True))
        conn.execute(
            update(loans).values(returned_at=NOW + timedelta(days=1))  # everything checked in
        )
        conn.execute(update(loan_policies).values(loan_days=99))
    data = demo.seed_demo(engine, hasher, now=NOW + timedelta(days=1), reset=True)
    assert data.created
    with engine.connect() as conn:
        ada = get_patron_by_barcode(conn, "2000001")
        assert ada is not None and not ada.blocked
        assert (
            conn.execute(
                select(func.count()).select_from(loans).where(loans.c.returned_at.is_(None))
            ).scalar()
            == 2
        )
        assert conn.execute(select(func.count()).select_from(holds)).scalar() == 2
        assert conn.execute(select(func.count()).select_from(kiosk_accounts)).scalar() == 1
        # Policies are site-wide rules: a reset leaves them as they were changed.
        assert set(conn.execute(select(loan_policies.c.loan_days)).scalars()) == {99}


@pytest.mark.parametrize("reset", [False, True])
def test_a_database_with_other_data_is_refused_untouched(
    engine: Engine, hasher: PinHasher, reset: bool
) -> None:
    """#17 items 1-2: a real patron 2000001 and item 3000001 are never replaced by the demo's."""
    mine_patron = add_patron(engine, "2000001", name="Real Patron")
    mine_item = add_item(engine, "3000001", title="Real Book")
    with pytest.raises(demo.DemoRefused, match=r"did not create \(1 patrons, 1 items\)"):
        demo.seed_demo(engine, hasher, now=NOW, reset=reset)
    with engine.connect() as conn:
        assert conn.execute(select(patrons.c.id, patrons.c.name)).all() == [
            (mine_patron, "Real Patron")
        ]
        assert conn.execute(select(items.c.id, items.c.title)).all() == [(mine_item, "Real Book")]
        assert conn.execute(select(func.count()).select_from(kiosk_accounts)).scalar() == 0


def test_real_data_added_to_a_demo_database_stops_the_reset(
    engine: Engine, hasher: PinHasher
) -> None:
    demo.seed_demo(engine, hasher, now=NOW)
    mine = add_patron(engine, "9000001", name="Real Patron")
    with pytest.raises(demo.DemoRefused, match="1 patrons"):
        demo.seed_demo(engine, hasher, now=NOW, reset=True)
    with engine.connect() as conn:
        assert conn.execute(select(patrons.c.name).where(patrons.c.id == mine)).scalar() == (
            "Real Patron"
        )
        assert conn.execute(select(func.count()).select_from(patrons)).scalar() == 8


def test_a_missing_demo_kiosk_is_reported_not_printed(engine: Engine, hasher: PinHasher) -> None:
    demo.seed_demo(engine, hasher, now=NOW)
    with engine.begin() as conn:
        conn.execute(update(kiosk_accounts).values(login="renamed"))
    with pytest.raises(demo.DemoRefused, match="kiosk_accounts kiosk"):
        demo.seed_demo(engine, hasher, now=NOW)
    assert demo.seed_demo(engine, hasher, now=NOW, reset=True).created


def test_describe_lists_every_credential() -> None:
    lines = "\n".join(demo.demo_data(True).describe())
    assert "'kiosk'" in lines and "'sip2demo'" in lines
    for spec in demo.PATRONS:
        assert spec.barcode in lines
        if spec.pin:
            assert f"{spec.barcode}  {spec.pin}" in lines
    for item in demo.ITEMS:
        assert item.barcode in lines
