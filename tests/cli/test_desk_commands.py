"""Issue #17 item 10: the day-to-day commands (policy, fee, hold, throttle, patron and item
edits and deletes, account delete) through the CLI, against SQLite files and PostgreSQL.

Each test checks what the database holds afterwards, and that deletes, waivers and throttle
clears are in the audit trail with no secret in their detail.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, insert, select

from sip2d.circulation.rules import Terminal, checkin
from sip2d.cli.common import now_utc
from sip2d.config import ThrottleConfig
from sip2d.storage.audit import recent_audit
from sip2d.storage.loans import open_loan
from sip2d.storage.models import (
    auth_failures,
    fees,
    holds,
    items,
    kiosk_accounts,
    loan_policies,
    loans,
    mail_outbox,
    patrons,
    pin_tokens,
)
from tests.cli.conftest import Cli

PIN = "58213907"
PASSWORD = "kiosk-Pa55word-417"


def _audit(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return recent_audit(conn, 100)


def _actions(engine: Engine) -> list[tuple[object, object]]:
    return [(event["action"], event["subject"]) for event in reversed(_audit(engine))]


def _lend(engine: Engine, item: str, patron: str, due: datetime) -> None:
    with engine.execution_options(sqlite_write=True).begin() as conn:
        item_id = conn.execute(select(items.c.id).where(items.c.barcode == item)).scalar_one()
        patron_id = conn.execute(
            select(patrons.c.id).where(patrons.c.barcode == patron)
        ).scalar_one()
        open_loan(conn, item_id, patron_id, None, due - timedelta(days=21), due)


def test_policy_set_list_delete_and_the_maximum_fine_caps_a_late_return(
    ready: Cli, engine: Engine
) -> None:
    listing = ready.ok("policy", "list").output
    assert "built-in default" in listing  # an empty table still says what applies
    added = ready.ok(
        "policy", "set", "--media-type", "005", "--profile", "child", "--loan-days", "7",
        "--renewals", "1", "--loan-limit", "5", "--fine-per-day", "0.50", "--max-fine", "2.00",
        "--block-above", "4",
    ).output  # fmt: skip
    assert "added" in added and "maximum fine 2.00" in added
    changed = ready.ok("policy", "set", "--media-type", "005", "--profile", "child",
                       "--loan-days", "10").output  # fmt: skip
    assert "changed" in changed
    with engine.connect() as conn:
        row = conn.execute(select(loan_policies)).one()
    assert (row.media_type, row.profile, row.loan_days, row.renewal_limit, row.max_loans) == (
        "005", "child", 10, 1, 5,
    )  # fmt: skip
    assert (row.daily_fine_cents, row.max_fine_cents, row.fine_threshold_cents) == (50, 200, 400)
    # A new general policy starts from the defaults for the rules not given.
    ready.ok("policy", "set", "--loan-days", "28")
    with engine.connect() as conn:
        general = conn.execute(
            select(loan_policies).where(loan_policies.c.media_type.is_(None))
        ).one()
    assert (general.profile, general.loan_days, general.renewal_limit) == (None, 28, 2)
    listing = ready.ok("policy", "list").output.splitlines()
    assert listing[1].startswith("any    any") and listing[2].startswith("005    child")

    # The cap applies at checkin: 30 days late at 0.50 a day is 15.00, capped at 2.00.
    ready.ok("patron", "add", "2001", "--name", "Kid", "--profile", "child")
    ready.ok("item", "add", "3001", "--title", "Film", "--media-type", "005")
    now = datetime(2026, 6, 1, 12, 0)
    _lend(engine, "3001", "2001", now - timedelta(days=30))
    with engine.execution_options(sqlite_write=True).begin() as conn:
        checkin(conn, Terminal(None, "test", ""), "3001", now)
        owed = conn.execute(select(patrons.c.fine_balance_cents)).scalar_one()
    assert owed == 200

    assert "no policy for media type 001" in ready.fails("policy", "delete", "--media-type", "001")
    assert "--media-type" in ready.fails("policy", "set", "--media-type", "5", "--loan-days", "3")
    assert "--max-fine" in ready.fails("policy", "set", "--max-fine", "lots")
    ready.ok("policy", "delete", "--media-type", "005", "--profile", "child")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(loan_policies)).scalar_one() == 1
    assert ("policy.delete", "policy:005/child") in _actions(engine)


def test_fee_add_list_waive_keeps_the_balance(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada")
    ready.ok("item", "add", "3001", "--title", "Dune")
    ready.ok("fee", "add", "2001", "2.50", "--type", "03", "--item", "3001",
             "--description", "torn cover")  # fmt: skip
    ready.ok("fee", "add", "2001", "1.00")
    listing = ready.ok("fee", "list", "2001").output
    assert "03 damage" in listing and "torn cover" in listing and "3001" in listing
    with engine.connect() as conn:
        assert conn.execute(select(patrons.c.fine_balance_cents)).scalar_one() == 350
        first = conn.execute(select(fees.c.id).order_by(fees.c.id)).scalars().first()
    assert "2.50 waived" in ready.ok("fee", "waive", str(first), "--reason", "goodwill").output
    with engine.connect() as conn:
        assert conn.execute(select(patrons.c.fine_balance_cents)).scalar_one() == 100
    unpaid = ready.ok("fee", "list").output
    assert "torn cover" not in unpaid
    assert "waived 2.50" in ready.ok("fee", "list", "--all").output
    assert "paid already" in ready.fails("fee", "waive", str(first))
    assert "no fee with id 999" in ready.fails("fee", "waive", "999")
    assert "AMOUNT" in ready.fails("fee", "add", "2001", "0")
    assert "no patron" in ready.fails("fee", "add", "nobody", "1.00")
    waived = [e for e in _audit(engine) if e["action"] == "fee.waive"]
    assert json.loads(str(waived[0]["detail"])) == {"cents": 250, "reason": "goodwill"}


def test_hold_place_list_cancel(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada")
    ready.ok("patron", "add", "2002", "--name", "Bob")
    ready.ok("item", "add", "3001", "--title", "Dune")
    assert "queue position 1" in ready.ok("hold", "place", "2001", "--item", "3001",
                                          "--pickup", "MAIN").output  # fmt: skip
    assert "queue position 2" in ready.ok("hold", "place", "2002", "--item", "3001").output
    ready.ok("hold", "place", "2002", "--title", "Foundation")
    listing = ready.ok("hold", "list", "--item", "3001").output.splitlines()
    assert len(listing) == 3 and "2001" in listing[1] and "MAIN" in listing[1]
    ready.ok("patron", "block", "2001")
    assert "hold refused" in ready.fails("hold", "place", "2001", "--title", "Emma")
    with engine.connect() as conn:
        first = conn.execute(select(holds.c.id).order_by(holds.c.id)).scalars().first()
    ready.ok("hold", "cancel", str(first))
    assert f"no active hold with id {first}" in ready.fails("hold", "cancel", str(first))
    assert "2001" not in ready.ok("hold", "list").output
    assert "cancelled" in ready.ok("hold", "list", "--all").output
    assert "--item or --title" in ready.run("hold", "place", "2001").output
    assert ("hold.cancel", f"hold:{first}") in _actions(engine)


def test_throttle_list_and_clear(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada")
    cfg = ThrottleConfig()
    now = now_utc()
    rows = [
        {"scope": "address", "key": "10.1.2.3", "patron_barcode": f"99{n}", "at": now}
        for n in range(cfg.spray_block_after)
    ]
    rows.append({"scope": "address_block", "key": "10.1.2.3", "patron_barcode": "", "at": now})
    rows += [{"scope": "account", "key": "kiosk1", "patron_barcode": "991", "at": now}]
    rows += [{"scope": "login", "key": "10.9.9.9", "patron_barcode": "", "at": now}] * 3
    rows += [{"scope": "login_name", "key": "10.9.9.9 abcdef", "patron_barcode": "", "at": now}]
    with engine.execution_options(sqlite_write=True).begin() as conn:
        conn.execute(insert(auth_failures), rows)
        conn.execute(
            patrons.update().values(pin_failures=5, pin_locked_until=now + timedelta(minutes=9))
        )
    listing = ready.ok("throttle", "list").output
    spray = next(
        line for line in listing.splitlines() if "pin-spray" in line and "10.1.2.3" in line
    )
    assert "blocked until" in spray and str(cfg.spray_block_after) in spray
    assert "login-name" in listing and "kiosk1" in listing
    locked = next(line for line in listing.splitlines() if line.startswith("patron"))
    assert "2001" in locked and "locked until" in locked

    spray_records = f"{cfg.spray_block_after + 1} failure record(s)"
    assert spray_records in ready.ok("throttle", "clear", "address", "10.1.2.3").output
    # An address's clear reaches its 93 limits too, those per login name included.
    assert "4 failure record(s)" in ready.ok("throttle", "clear", "address", "10.9.9.9").output
    ready.ok("throttle", "clear", "account", "kiosk1")
    ready.ok("throttle", "clear", "patron", "2001")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(auth_failures)).scalar_one() == 0
        assert conn.execute(select(patrons.c.pin_failures, patrons.c.pin_locked_until)).one() == (
            0,
            None,
        )
    assert "nothing is slowed" in ready.ok("throttle", "list").output
    assert "no patron" in ready.fails("throttle", "clear", "patron", "nobody")
    cleared = [e for e in _audit(engine) if e["action"] == "throttle.clear"]
    assert {e["subject"] for e in cleared} == {
        "address:10.1.2.3", "address:10.9.9.9", "account:kiosk1", "patron:2001",
    }  # fmt: skip


def test_patron_update_search_and_guarded_delete(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada Lovelace", "--email", "ada@example.org",
             "--pin-stdin", input=PIN + "\n")  # fmt: skip
    ready.ok("patron", "add", "2002", "--name", "Charles Babbage")
    ready.ok("patron", "add", "2003", "--name", "100% Ada_fan")
    ready.ok("item", "add", "3001", "--title", "Notes")
    ready.ok("patron", "update", "2001", "--phone", "555-0100", "--loan-limit", "3",
             "--expires", "2030-01-31")  # fmt: skip
    with engine.connect() as conn:
        ada = conn.execute(select(patrons).where(patrons.c.barcode == "2001")).one()
    # Untouched fields (email, the PIN) keep their values.
    assert (ada.phone, ada.loan_limit, str(ada.expires_on), ada.email) == (
        "555-0100", 3, "2030-01-31", "ada@example.org",
    )  # fmt: skip
    assert ada.pin_hash is not None
    ready.ok("patron", "update", "2001", "--loan-limit", "policy")
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(patrons.c.loan_limit).where(patrons.c.barcode == "2001")
            ).scalar_one()
            is None
        )
    assert "nothing to change" in ready.run("patron", "update", "2001").output
    assert "--expires" in ready.fails("patron", "update", "2001", "--expires", "31/01/2030")
    assert "no patron" in ready.fails("patron", "update", "nobody", "--name", "X")

    found = ready.ok("patron", "search", "ADA").output
    assert "2001" in found and "2003" in found and "2002" not in found
    assert "2003" in ready.ok("patron", "search", "100%").output
    assert "2001" not in ready.ok("patron", "search", "_").output.replace("Ada_fan", "")
    assert "no patron's name contains" in ready.ok("patron", "search", "zzz").output

    _lend(engine, "3001", "2001", datetime(2030, 1, 1))
    ready.ok("fee", "add", "2001", "1.25")
    refused = ready.fails("patron", "delete", "2001")
    assert "1 open loan(s)" in refused and "unpaid fee" in refused and "--force" in refused
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(patrons)).scalar_one() == 3
    assert "forced" in ready.ok("patron", "delete", "2001", "--force").output
    ready.ok("patron", "delete", "2002")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(loans)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(fees)).scalar_one() == 0
        assert conn.execute(select(items.c.circulation_status)).scalar_one() == "03"
    deleted = [e for e in _audit(engine) if e["action"] == "patron.delete"]
    assert {e["subject"] for e in deleted} == {"patron:2001", "patron:2002"}
    for event in _audit(engine):
        assert PIN not in str(event["detail"]) and "argon2" not in str(event["detail"])
        assert str(event["actor"]).startswith("cli:")


def test_item_update_and_guarded_delete(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada")
    ready.ok("item", "add", "3001", "--title", "Dune", "--location", "MAIN")
    ready.ok("item", "add", "3002", "--title", "Emma")
    ready.ok("item", "update", "3001", "--status", "12", "--location", "ANNEX",
             "--checkout-fee", "1.50")  # fmt: skip
    with engine.connect() as conn:
        dune = conn.execute(select(items).where(items.c.barcode == "3001")).one()
    assert (dune.circulation_status, dune.permanent_location, dune.current_location) == (
        "12", "ANNEX", "MAIN",
    )  # fmt: skip
    assert (dune.checkout_fee_cents, dune.title) == (150, "Dune")
    assert "--status" in ready.fails("item", "update", "3001", "--status", "99")
    _lend(engine, "3001", "2001", datetime(2030, 1, 1))
    ready.ok("fee", "add", "2001", "4.00", "--item", "3001")
    assert "1 open loan(s)" in ready.fails("item", "delete", "3001")
    ready.ok("item", "delete", "3001", "--force")
    ready.ok("item", "delete", "3002")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(items)).scalar_one() == 0
        # The money owed for the deleted copy is still owed.
        assert conn.execute(select(fees.c.item_id, fees.c.amount_cents)).one() == (None, 400)
        assert conn.execute(select(patrons.c.fine_balance_cents)).scalar_one() == 400
    assert "no item" in ready.fails("item", "delete", "3001")
    assert ("item.delete", "item:3001") in _actions(engine)


def test_account_delete(ready: Cli, engine: Engine) -> None:
    ready.ok("account", "add", "kiosk1", "--password-stdin", input=PASSWORD + "\n")
    ready.ok("patron", "add", "2001", "--name", "Ada")
    ready.ok("item", "add", "3001", "--title", "Dune")
    with engine.execution_options(sqlite_write=True).begin() as conn:
        account_id = conn.execute(select(kiosk_accounts.c.id)).scalar_one()
        item_id = conn.execute(select(items.c.id)).scalar_one()
        patron_id = conn.execute(select(patrons.c.id)).scalar_one()
        open_loan(conn, item_id, patron_id, account_id, datetime(2026, 1, 1), datetime(2026, 2, 1))
    ready.ok("account", "delete", "kiosk1")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(kiosk_accounts)).scalar_one() == 0
        assert conn.execute(select(loans.c.account_id)).scalar_one() is None
    assert "no kiosk account" in ready.fails("account", "delete", "kiosk1")
    event = next(e for e in _audit(engine) if e["action"] == "account.delete")
    assert event["subject"] == "account:kiosk1" and PASSWORD not in str(event["detail"])


def test_a_new_email_warns_the_old_address_and_revokes_links(ready: Cli, engine: Engine) -> None:
    """#16 item 4: changing the address at the desk tells the old one and ends live links."""
    with ready.config.open("a", encoding="utf-8") as config:
        config.write('\n[web]\nbase_url = "https://library.example"\n')
    ready.ok("patron", "add", "2001", "--name", "Ada Lovelace", "--email", "ada@example.org")
    ready.ok("patron", "send-reset-link", "2001")
    ready.ok("patron", "update", "2001", "--phone", "555-0100")  # no e-mail change: no notice
    ready.ok("patron", "update", "2001", "--email", "ada@new.example")
    with engine.connect() as conn:
        sent = conn.execute(
            select(mail_outbox.c.kind, mail_outbox.c.to_address).order_by(mail_outbox.c.id)
        ).all()
        live = conn.execute(select(pin_tokens.c.id).where(pin_tokens.c.revoked_at.is_(None))).all()
    assert [tuple(row) for row in sent] == [
        ("reset_link", "ada@example.org"),
        ("email_changed", "ada@example.org"),
    ]
    assert live == []
