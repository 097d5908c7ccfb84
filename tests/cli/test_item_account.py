"""`sip2d item ...` and `sip2d account ...` against real databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from sip2d.storage.loans import open_loan
from sip2d.storage.models import items, kiosk_accounts
from tests.cli.conftest import Cli

PASSWORD = "kiosk-Pa55word-417"


def test_items(ready: Cli, engine: Engine) -> None:
    result = ready.ok(
        "item", "add", "3001", "--title", "Dune", "--author", "Herbert", "--media-type", "001",
        "--location", "MAIN", "--call-number", "SF HER",
    )  # fmt: skip
    assert "added item 3001 (Dune)" in result.output
    ready.ok("item", "add", "3002", "--title", "Spirited Away", "--media-type", "005")
    with engine.connect() as conn:
        dune = conn.execute(select(items).where(items.c.barcode == "3001")).one()
    assert (dune.permanent_location, dune.current_location, dune.call_number) == (
        "MAIN",
        "MAIN",
        "SF HER",
    )
    ready.ok("patron", "add", "2001", "--name", "Ada")
    with engine.execution_options(sqlite_write=True).begin() as conn:
        patron_id = conn.execute(select(items.c.id).where(items.c.barcode == "3001")).scalar_one()
        now = datetime(2025, 3, 4)
        open_loan(conn, dune.id, patron_id, None, now, now + timedelta(days=21))
    shown = ready.ok("item", "show", "3001").output
    assert "to patron 2001" in shown and "due 2025-03-25" in shown and "OVERDUE" in shown
    listing = ready.ok("item", "list").output
    assert "3001" in listing and "Spirited Away" in listing

    assert "item 3001 already exists" in ready.fails("item", "add", "3001", "--title", "X")
    assert "no item with barcode 'nope'" in ready.fails("item", "show", "nope")
    assert "--media-type" in ready.fails("item", "add", "3003", "--title", "X", "--media-type", "5")
    assert "--title: empty" in ready.fails("item", "add", "3003", "--title", "")


def test_accounts(ready: Cli, engine: Engine) -> None:
    result = ready.ok(
        "account", "add", "kiosk1", "--password-stdin", "--institution", "BRANCH",
        "--location", "FRONT", "--encoding", "cp850", "--error-detection", "required",
        "--terminator", "crlf", "--allow-network", "10.1.2.0/24", "--allow-network", "::1",
        "--deny", "renew", "--deny", "fee-paid",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert PASSWORD not in result.output
    ready.ok("account", "add", "kiosk2", "--allow", "status-update", input=f"{PASSWORD}\n" * 2)
    with engine.connect() as conn:
        rows = {
            r.login: r for r in conn.execute(select(kiosk_accounts).order_by(kiosk_accounts.c.id))
        }
    one, two = rows["kiosk1"], rows["kiosk2"]
    assert (one.institution_id, one.location_code, one.encoding) == ("BRANCH", "FRONT", "cp850")
    assert (one.error_detection, one.terminator) == ("required", "CRLF")
    assert one.allowed_networks == "10.1.2.0/24,::1/128"
    assert (one.can_checkout, one.can_renew, one.can_fee_paid, one.can_status_update) == (
        True,
        False,
        False,
        False,
    )
    assert (two.institution_id, two.can_renew, two.can_status_update) == ("MAIN", True, True)
    assert ready.hasher().verify(one.password_hash, PASSWORD).ok

    listing = ready.ok("account", "list").output
    assert "kiosk1: enabled" in listing and "10.1.2.0/24" in listing
    assert "$sip2d$" not in listing and PASSWORD not in listing
    ready.ok("account", "disable", "kiosk1")
    assert "kiosk1: DISABLED" in ready.ok("account", "list").output
    ready.ok("account", "enable", "kiosk1")
    assert "kiosk1: enabled" in ready.ok("account", "list").output
    ready.ok("account", "passwd", "kiosk1", "--password-stdin", input="another-secret-99\n")
    with engine.connect() as conn:
        new_hash = conn.execute(
            select(kiosk_accounts.c.password_hash).where(kiosk_accounts.c.login == "kiosk1")
        ).scalar_one()
    assert ready.hasher().verify(new_hash, "another-secret-99").ok
    assert not ready.hasher().verify(new_hash, PASSWORD).ok


def test_account_mistakes(ready: Cli) -> None:
    ready.ok("account", "add", "kiosk1", "--password-stdin", input=PASSWORD + "\n")
    assert "already exists" in ready.fails(
        "account", "add", "kiosk1", "--password-stdin", input=PASSWORD + "\n"
    )
    assert "not an IP network" in ready.fails(
        "account", "add", "k2", "--password-stdin", "--allow-network", "10.0.0.0/33", input="x\n"
    )
    refused = ready.fails("account", "add", "k2", "--password-stdin", input="pass|word\n")
    assert "'|'" in refused and "pass|word" not in refused
    assert "both allowed and denied" in ready.fails(
        "account", "add", "k2", "--allow", "hold", "--deny", "hold", input="x\n"
    )
    for command in ("disable", "enable"):
        assert "no kiosk account with login 'ghost'" in ready.fails("account", command, "ghost")
    assert "no kiosk account" in ready.fails(
        "account", "passwd", "ghost", "--password-stdin", input="x\n"
    )
    assert "contains a space" in ready.fails(
        "account", "add", "two words", "--password-stdin", input="x\n"
    )
