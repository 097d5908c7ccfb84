"""`sip2d account checked-in-ok`: how a 09 of an item not on loan is answered to a kiosk."""

from __future__ import annotations

from sqlalchemy import Engine, select

from sip2d.storage.models import kiosk_accounts
from tests.cli.conftest import Cli


def checked_in_ok(engine: Engine, login: str) -> bool:
    with engine.connect() as conn:
        query = select(kiosk_accounts.c.checked_in_ok).where(kiosk_accounts.c.login == login)
        return bool(conn.execute(query).scalar_one())


def test_checked_in_ok_is_off_until_switched_on(ready: Cli, engine: Engine) -> None:
    ready.ok("account", "add", "kiosk1", "--password-stdin", input="kiosk-Pa55word-417\n")
    assert checked_in_ok(engine, "kiosk1") is False
    assert "checked-in-ok" not in ready.ok("account", "list").output

    result = ready.ok("account", "checked-in-ok", "kiosk1", "on")
    assert "answers ok=1" in result.output
    assert checked_in_ok(engine, "kiosk1") is True
    assert "checked-in-ok" in ready.ok("account", "list").output

    ready.ok("account", "checked-in-ok", "kiosk1", "off")
    assert checked_in_ok(engine, "kiosk1") is False
    assert "no kiosk account" in ready.fails("account", "checked-in-ok", "nobody", "on")
    usage = ready.run("account", "checked-in-ok", "kiosk1", "maybe")
    assert usage.exit_code == 2 and "'maybe' is not one of 'on', 'off'" in usage.output
