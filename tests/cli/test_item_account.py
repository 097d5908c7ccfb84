"""`sip2d item ...` and `sip2d account ...` against real databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, select

from sip2d.cli.account import PERMISSIONS
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
    assert "may: checkout, checkin, hold" in result.output
    ready.ok(
        "account", "add", "kiosk2", "--allow", "block-patron", "--allow", "offline",
        input=f"{PASSWORD}\n" * 2,
    )  # fmt: skip
    with engine.connect() as conn:
        rows = {
            r.login: r for r in conn.execute(select(kiosk_accounts).order_by(kiosk_accounts.c.id))
        }
    one, two = rows["kiosk1"], rows["kiosk2"]
    assert (one.institution_id, one.location_code, one.encoding) == ("BRANCH", "FRONT", "cp850")
    assert (one.error_detection, one.terminator) == ("required", "CRLF")
    assert one.allowed_networks == "10.1.2.0/24,::1/128"
    assert (one.can_checkout, one.can_renew, one.can_fee_paid) == (True, False, False)
    assert permissions(one) == (False, False, False, False)
    assert (two.institution_id, two.can_renew) == ("MAIN", True)
    assert permissions(two) == (True, False, False, True)
    assert ready.hasher().verify(one.password_hash, PASSWORD).ok

    listing = ready.ok("account", "list").output
    assert "kiosk1: enabled" in listing and "10.1.2.0/24" in listing
    assert "kiosk2: " in listing and "hold, block-patron, offline" in listing
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


def permissions(row: Row[Any]) -> tuple[bool, bool, bool, bool]:
    """The permissions that are off unless allowed, in the order of the CLI's names."""
    return (row.can_block_patron, row.can_enable_patron, row.can_item_status, row.can_offline)


def account_row(engine: Engine, login: str) -> Row[Any]:
    with engine.connect() as conn:
        return conn.execute(select(kiosk_accounts).where(kiosk_accounts.c.login == login)).one()


def test_every_permission_can_be_allowed_or_denied(ready: Cli, engine: Engine) -> None:
    ready.ok(
        "account", "add", "all", "--password-stdin", "--allow", "block-patron",
        "--allow", "enable-patron", "--allow", "item-status", "--allow", "offline",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert permissions(account_row(engine, "all")) == (True, True, True, True)
    ready.ok(
        "account", "add", "none", "--password-stdin", "--deny", "checkout", "--deny", "checkin",
        "--deny", "renew", "--deny", "fee-paid", "--deny", "hold", input=PASSWORD + "\n",
    )  # fmt: skip
    none = account_row(engine, "none")
    assert not any(getattr(none, column) for column in PERMISSIONS.values())
    assert "none: enabled" in ready.ok("account", "list").output
    assert "may: nothing" in ready.ok("account", "list").output


def test_status_update_is_a_deprecated_alias(ready: Cli, engine: Engine) -> None:
    result = ready.ok(
        "account", "add", "old", "--password-stdin", "--allow", "status-update",
        "--allow", "status-update", input=PASSWORD + "\n",
    )  # fmt: skip
    assert result.stderr.splitlines() == [
        "warning: permission 'status-update' is deprecated; "
        "use block-patron, enable-patron and item-status"
    ]
    # The three families it stood for, and not off-line transactions.
    assert permissions(account_row(engine, "old")) == (True, True, True, False)
    assert "hold, block-patron, enable-patron, item-status" in result.output
    # Without the old name, no warning.
    plain = ready.ok("account", "add", "new", "--password-stdin", input=PASSWORD + "\n")
    assert "warning" not in plain.stderr
    # The alias is expanded before the allowed and denied lists are compared.
    refused = ready.run(
        "account", "add", "k3", "--allow", "status-update", "--deny", "item-status", input="x\n"
    )
    assert refused.exit_code == 1
    assert "Error: both allowed and denied: item-status" in refused.stderr


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
