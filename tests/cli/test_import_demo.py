"""`sip2d import patrons|items` and `sip2d demo`, and that no PIN survives anywhere in clear."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, func, select

from sip2d.storage.models import items, patrons
from tests.auth.secret_scan import assert_secret_absent
from tests.cli.conftest import Cli

IMPORT_PIN = "73915268"
SET_PIN = "58204617"
ADD_PIN = "46172093"
REJECTED_PIN = "90814736"


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def patron_file(tmp_path: Path) -> Path:
    path = tmp_path / "patrons.csv"
    path.write_text(
        "barcode,name,expires,pin\n"
        f"100,Ann,2030-01-01,{IMPORT_PIN}\n"
        f"101,Bob,2030-02-30,{REJECTED_PIN}\n"
        "102,Cy,,\n",
        encoding="utf-8",
    )
    return path


def test_import_refuses_a_file_with_bad_rows(ready: Cli, engine: Engine, tmp_path: Path) -> None:
    path = patron_file(tmp_path)
    result = ready.run("import", "patrons", str(path))
    assert result.exit_code == 1
    assert f"{path}: line 3: expires: '2030-02-30' is not a valid date" in result.stderr
    assert "1 row is bad, nothing was imported" in result.stderr
    assert "Traceback" not in result.output
    assert count(engine, patrons) == 0


def test_import_skip_invalid_then_reimport(ready: Cli, engine: Engine, tmp_path: Path) -> None:
    path = patron_file(tmp_path)
    result = ready.ok("import", "patrons", str(path), "--skip-invalid")
    assert "imported 2 patrons" in result.output and "(2 new, 0 updated)" in result.output
    assert "1 PINs hashed" in result.output
    rejects = tmp_path / "patrons.rejects.csv"
    assert f"1 bad rows skipped, written to {rejects}" in result.output
    with rejects.open(encoding="utf-8", newline="") as fh:
        (reject,) = list(csv.DictReader(fh))
    assert (reject["barcode"], reject["pin"], reject["line"]) == ("101", "", "3")

    custom = tmp_path / "out" / "bad.csv"
    custom.parent.mkdir()
    again = ready.ok("import", "patrons", str(path), "--skip-invalid", "--rejects", str(custom))
    assert "(0 new, 2 updated)" in again.output
    assert custom.exists()
    assert count(engine, patrons) == 2


def test_import_items(ready: Cli, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text(
        "barcode,title,media_type,location\n3001,Dune,001,MAIN\n3002,Akira,005,AV\n", "utf-8"
    )
    assert "imported 2 items" in ready.ok("import", "items", str(path)).output
    assert count(engine, items) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("barcode,title,colour\n1,A,red\n", "unknown column(s) 'colour'"),
        ("", "empty file"),
        ("title\nA\n", "missing required column(s): barcode"),
    ],
)
def test_bad_csv_files_are_one_line(ready: Cli, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "items.csv"
    path.write_text(content, encoding="utf-8")
    assert message in ready.fails("import", "items", str(path))


def test_missing_file_is_a_usage_error(ready: Cli, tmp_path: Path) -> None:
    result = ready.run("import", "items", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_demo_seeds_and_prints_the_credentials(ready: Cli, engine: Engine) -> None:
    first = ready.ok("demo").output
    assert "demo data seeded" in first
    assert "login 'kiosk', password 'sip2demo'" in first
    assert "2000001  3917  Ada Lovelace" in first
    assert "3000007" in first
    again = ready.ok("demo").output
    assert "already present" in again
    assert "demo data seeded afresh" in ready.ok("demo", "--reset").output
    assert count(engine, patrons) == 7


def test_no_pin_in_clear_in_the_database_files_or_the_output(
    ready: Cli, engine: Engine, tmp_path: Path
) -> None:
    if ready.sqlite_file is None:
        pytest.skip("the raw-file scan reads the SQLite database file and its -wal")
    # An open connection keeps SQLite from checkpointing and deleting the -wal file when the
    # CLI's connections close, so the scan sees the WAL frames the commands wrote.
    with engine.connect() as keeper:
        keeper.exec_driver_sql("SELECT 1")
        outputs = [
            ready.ok("import", "patrons", str(patron_file(tmp_path)), "--skip-invalid"),
            ready.ok("patron", "add", "200", "--name", "D", "--pin-stdin", input=ADD_PIN),
            ready.ok("patron", "set-pin", "102", input=f"{SET_PIN}\n{SET_PIN}\n"),
            ready.ok("patron", "set-pin", "200", "--pin-stdin", input=SET_PIN + "\n"),
            ready.ok("patron", "show", "100"),
            ready.ok("patron", "list"),
        ]
        wal = ready.sqlite_file.with_name(ready.sqlite_file.name + "-wal")
        assert wal.stat().st_size > 0
        captured = [r.output for r in outputs] + [r.stderr for r in outputs]
        rejects = tmp_path / "patrons.rejects.csv"
        for pin in (IMPORT_PIN, SET_PIN, ADD_PIN, REJECTED_PIN):
            assert_secret_absent(pin, ready.sqlite_file, *captured, rejects)
    # The PINs are really stored (as hashes), so the scan looked at the right data.
    with engine.connect() as conn:
        stored = dict(conn.execute(select(patrons.c.barcode, patrons.c.pin_hash)).all())
    hasher = ready.hasher()
    assert hasher.verify(stored["100"], IMPORT_PIN).ok
    assert hasher.verify(stored["102"], SET_PIN).ok
    assert hasher.verify(stored["200"], SET_PIN).ok
