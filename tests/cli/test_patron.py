"""`sip2d patron ...` against real databases, including every user-mistake error path."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine, select, update

from sip2d.storage.models import patrons
from tests.cli.conftest import Cli

PIN = "73915268"
NEW_PIN = "58204617"


def row(engine: Engine, barcode: str) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(patrons).where(patrons.c.barcode == barcode)).one()._mapping
        )


def block(engine: Engine, barcode: str) -> tuple[object, object, object]:
    patron = row(engine, barcode)
    return patron["blocked"], patron["block_reason"], patron["block_source"]


def test_add_show_list(ready: Cli, engine: Engine) -> None:
    added = ready.ok(
        "patron", "add", "2001", "--name", "Ada Lovelace", "--email", "ada@example.org",
        "--expires", "2030-01-31", "--profile", "staff", "--language", "001", "--pin-stdin",
        input=PIN + "\n",
    )  # fmt: skip
    assert "added patron 2001 (Ada Lovelace); PIN set" in added.output
    ready.ok("patron", "add", "2002", "--name", "Ben")
    ada = row(engine, "2001")
    assert (ada["email"], ada["expires_on"], ada["profile"], ada["language"]) == (
        "ada@example.org",
        date(2030, 1, 31),
        "staff",
        "001",
    )
    assert ready.hasher().verify(str(ada["pin_hash"]), PIN).ok
    ben = row(engine, "2002")
    assert ben["pin_hash"] is None and ben["pin_must_change"] is True

    shown = ready.ok("patron", "show", "2001").output
    assert "Ada Lovelace" in shown and "2030-01-31" in shown and "PIN:          set" in shown
    assert "$sip2d$" not in shown
    listing = ready.ok("patron", "list").output.splitlines()
    assert [line.split()[0] for line in listing] == ["BARCODE", "2001", "2002"]
    assert "no-pin" in listing[2]
    limited = ready.ok("patron", "list", "--limit", "1").output
    assert "(1 more; use --limit)" in limited


def test_block_unblock_reset_unlock(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada", "--pin-stdin", input=PIN + "\n")
    ready.ok("patron", "block", "2001", "--reason", "lost card")
    assert block(engine, "2001") == (True, "lost card", "staff")
    assert "blocked" in ready.ok("patron", "list").output
    assert "yes, by staff: lost card" in ready.ok("patron", "show", "2001").output
    ready.ok("patron", "unblock", "2001")
    assert block(engine, "2001") == (False, "", "")
    # Staff lift a kiosk's block too, and a staff block over a kiosk's becomes staff's.
    with engine.begin() as conn:
        conn.execute(
            update(patrons)
            .where(patrons.c.barcode == "2001")
            .values(blocked=True, block_reason="at kiosk", block_source="kiosk")
        )
    assert "yes, by kiosk: at kiosk" in ready.ok("patron", "show", "2001").output
    ready.ok("patron", "block", "2001")
    assert block(engine, "2001") == (True, "", "staff")
    ready.ok("patron", "unblock", "2001")
    assert block(engine, "2001") == (False, "", "")

    locked_until = datetime(2099, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            update(patrons)
            .where(patrons.c.barcode == "2001")
            .values(pin_failures=5, pin_locked_until=locked_until)
        )
    assert "locked until 2099-01-01" in ready.ok("patron", "show", "2001").output
    ready.ok("patron", "unlock", "2001")
    ada = row(engine, "2001")
    assert (ada["pin_failures"], ada["pin_locked_until"]) == (0, None)
    assert ada["pin_hash"] is not None

    ready.ok("patron", "reset-pin", "2001")
    ada = row(engine, "2001")
    assert (ada["pin_hash"], ada["pin_must_change"]) == (None, True)


def test_set_pin_interactively_and_from_stdin(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada")
    with engine.begin() as conn:
        conn.execute(
            update(patrons)
            .where(patrons.c.barcode == "2001")
            .values(pin_failures=3, pin_locked_until=datetime.now() + timedelta(hours=1))
        )
    # Interactive: asked twice; a mismatch asks again.
    result = ready.ok("patron", "set-pin", "2001", input=f"{PIN}\n{NEW_PIN}\n{PIN}\n{PIN}\n")
    assert "do not match" in result.output
    assert PIN not in result.output and NEW_PIN not in result.output
    ada = row(engine, "2001")
    assert ready.hasher().verify(str(ada["pin_hash"]), PIN).ok
    assert (ada["pin_must_change"], ada["pin_failures"], ada["pin_locked_until"]) == (
        False,
        0,
        None,
    )
    ready.ok("patron", "set-pin", "2001", "--pin-stdin", input=NEW_PIN + "\n")
    assert ready.hasher().verify(str(row(engine, "2001")["pin_hash"]), NEW_PIN).ok


def test_user_mistakes_are_one_line(ready: Cli, engine: Engine) -> None:
    ready.ok("patron", "add", "2001", "--name", "Ada")
    assert "patron 2001 already exists" in ready.fails("patron", "add", "2001", "--name", "X")
    assert "no patron with barcode '9999'" in ready.fails("patron", "show", "9999")
    for command in ("block", "unblock", "reset-pin", "unlock"):
        assert "no patron" in ready.fails("patron", command, "9999")
    assert "no patron" in ready.fails("patron", "set-pin", "9999", "--pin-stdin", input=PIN)
    bad_date = ready.fails("patron", "add", "2003", "--name", "C", "--expires", "2030-02-30")
    assert "--expires: '2030-02-30' is not a valid date" in bad_date
    assert "--language" in ready.fails("patron", "add", "2003", "--name", "C", "--language", "en")
    assert "barcode" in ready.fails("patron", "add", "20 03", "--name", "C")
    assert "--name: empty" in ready.fails("patron", "add", "2003", "--name", " ")
    refused = ready.fails("patron", "set-pin", "2001", "--pin-stdin", input="1234\n")
    assert "PIN refused" in refused and "1234" not in refused
    assert "no PIN on standard input" in ready.fails(
        "patron", "set-pin", "2001", "--pin-stdin", input=""
    )
    # Nothing above changed the patron, and no second 2003 appeared.
    assert row(engine, "2001")["pin_hash"] is None
    with engine.connect() as conn:
        assert conn.execute(select(patrons.c.barcode)).scalars().all() == ["2001"]


def test_missing_pepper_names_the_command_that_makes_one(ready: Cli) -> None:
    text = ready.config.read_text(encoding="utf-8")
    ready.config.write_text(text.replace("pepper_file", "old_pepper_files = []\n#"), "utf-8")
    line = ready.fails("patron", "add", "2001", "--name", "A", "--pin-stdin", input=PIN + "\n")
    assert "sip2d auth gen-pepper" in line
