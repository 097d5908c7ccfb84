"""Issue #17 item 12: `sip2d import` reads the files libraries really have (encodings,
semicolon and tab separated), keeps rejected rows byte for byte, refuses a barcode given twice,
never lets an empty cell erase a stored value unless told, and reports progress in a log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from sip2d.storage.models import items, patrons
from tests.auth.secret_scan import assert_secret_absent
from tests.cli.conftest import Cli

PIN = "73915268"


def names(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {b: n for b, n in conn.execute(select(patrons.c.barcode, patrons.c.name))}


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "latin-1", "cp850"])
def test_encodings(ready: Cli, engine: Engine, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("barcode,name\n1,Zoë Ñúñez\n2,Jürgen Öst\n".encode(encoding))
    ready.ok("import", "patrons", str(path), "--encoding", encoding)
    assert names(engine) == {"1": "Zoë Ñúñez", "2": "Jürgen Öst"}


def test_a_wrong_encoding_is_named_and_loads_nothing(
    ready: Cli, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("barcode,name\n1,Zoë\n".encode("cp1252"))
    result = ready.run("import", "patrons", str(path))
    assert result.exit_code == 1 and "not valid UTF-8 (see --encoding)" in result.stderr
    assert names(engine) == {}
    header = tmp_path / "h.csv"
    header.write_bytes("barcode,name,adresse_é\n".encode("cp850"))
    assert "--encoding takes cp1252, latin-1, cp850" in ready.fails(
        "import", "patrons", str(header)
    )


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiters_are_found_from_the_header(
    ready: Cli, engine: Engine, tmp_path: Path, delimiter: str
) -> None:
    path = tmp_path / "p.csv"
    rows = [["barcode", "name", "email"], ["1", "Smith, Ann", "a@example.org"], ["2", "Bo", ""]]
    text = "".join(
        delimiter.join(f'"{c}"' if "," in c and delimiter == "," else c for c in row) + "\r\n"
        for row in rows
    )
    path.write_text(text, encoding="utf-8")
    ready.ok("import", "patrons", str(path))
    assert names(engine) == {"1": "Smith, Ann", "2": "Bo"}


def test_rejects_keep_the_original_bytes(ready: Cli, engine: Engine, tmp_path: Path) -> None:
    # A cp1252, semicolon-separated export: the rejects come back the same way.
    path = tmp_path / "items.csv"
    original = [
        "barcode;title;media_type\r\n".encode("cp1252"),
        "3001;Café Society;001\r\n".encode("cp1252"),
        "3002;Œuvres « complètes »;9999\r\n".encode("cp1252"),
        b'3003;"Bad \x81 byte";001\r\n',  # 0x81 has no character in cp1252
    ]
    path.write_bytes(b"".join(original))
    ready.ok("import", "items", str(path), "--encoding", "cp1252", "--skip-invalid")
    rejects = (tmp_path / "items.rejects.csv").read_bytes().split(b"\r\n")
    assert rejects[0] == b"barcode;title;media_type;line;reason"
    assert rejects[1].startswith(original[2].removesuffix(b"\r\n") + b";3;media_type:")
    assert rejects[2] == original[3].removesuffix(b"\r\n") + b";4;not valid cp1252 (see --encoding)"
    # Corrected in place, the rejects file loads (its line and reason columns are ignored).
    fixed = (tmp_path / "items.rejects.csv").read_bytes().replace(b";9999;", b";005;")
    fixed = fixed.replace(b"\x81", "é".encode("cp1252"))
    (tmp_path / "fixed.csv").write_bytes(fixed)
    ready.ok("import", "items", str(tmp_path / "fixed.csv"), "--encoding", "cp1252")
    with engine.connect() as conn:
        titles = {b: t for b, t in conn.execute(select(items.c.barcode, items.c.title))}
    assert titles == {
        "3001": "Café Society",
        "3002": "Œuvres « complètes »",
        "3003": "Bad é byte",
    }


def test_rejects_blank_the_pin_and_keep_every_other_cell(
    ready: Cli, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(
        "barcode\tname\tpin\texpires\n".encode("latin-1")
        + f"1\tRené\t{PIN}\t2030-02-30\n".encode("latin-1")
    )
    ready.ok("import", "patrons", str(path), "--encoding", "latin-1", "--skip-invalid")
    raw = (tmp_path / "p.rejects.csv").read_bytes()
    assert raw.split(b"\n")[1].startswith("1\tRené\t\t2030-02-30\t2\t".encode("latin-1"))
    assert_secret_absent(PIN, raw)


def test_a_repeated_barcode_is_reported(ready: Cli, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("barcode,name\n1,Ann\n2,Bob\n1,Ann Again\n", encoding="utf-8")
    error = ready.run("import", "patrons", str(path))
    assert error.exit_code == 1
    assert "line 2: barcode '1' appears 2 times in this file (also on line 4)" in error.stderr
    assert "line 4: barcode '1' appears 2 times in this file (also on line 2)" in error.stderr
    assert names(engine) == {}


def test_an_empty_cell_erases_nothing_unless_clear_empty(
    ready: Cli, engine: Engine, tmp_path: Path
) -> None:
    first = tmp_path / "a.csv"
    first.write_text(
        "barcode,name,email,phone,expires,loan_limit,blocked\n"
        "1,Ann,ann@example.org,555-0100,2030-01-01,4,yes\n",
        encoding="utf-8",
    )
    ready.ok("import", "patrons", str(first))
    blank = tmp_path / "b.csv"
    blank.write_text(
        "barcode,name,email,phone,expires,loan_limit,blocked\n1,Ann B,,,,,\n2,New,,,,,\n",
        encoding="utf-8",
    )
    ready.ok("import", "patrons", str(blank))
    with engine.connect() as conn:
        ann = conn.execute(select(patrons).where(patrons.c.barcode == "1")).one()
        new = conn.execute(select(patrons).where(patrons.c.barcode == "2")).one()
    assert (ann.name, ann.email, ann.phone, str(ann.expires_on)) == (
        "Ann B", "ann@example.org", "555-0100", "2030-01-01",
    )  # fmt: skip
    assert (ann.loan_limit, ann.blocked, ann.block_source) == (4, True, "staff")
    # A new patron's empty cells take the defaults, as before.
    assert (new.email, new.expires_on, new.loan_limit, new.blocked) == ("", None, None, False)

    ready.ok("import", "patrons", str(blank), "--clear-empty")
    with engine.connect() as conn:
        ann = conn.execute(select(patrons).where(patrons.c.barcode == "1")).one()
    assert (ann.email, ann.phone, ann.expires_on, ann.loan_limit, ann.blocked) == (
        "", "", None, None, False,
    )  # fmt: skip


def test_an_empty_cell_leaves_an_items_location(ready: Cli, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "i.csv"
    path.write_text("barcode,title,location,checkout_fee\n1,Dune,MAIN,1.50\n", encoding="utf-8")
    ready.ok("import", "items", str(path))
    with engine.begin() as conn:
        conn.execute(update(items).values(current_location="TRANSIT"))
    path.write_text("barcode,title,location,checkout_fee\n1,Dune II,,\n", encoding="utf-8")
    ready.ok("import", "items", str(path))
    with engine.connect() as conn:
        row = conn.execute(select(items)).one()
    assert (row.title, row.permanent_location, row.current_location) == (
        "Dune II",
        "MAIN",
        "TRANSIT",
    )
    assert row.checkout_fee_cents == 150


def test_progress_lines_when_not_on_a_terminal(ready: Cli, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "barcode,name\n" + "".join(f"{n},Patron {n}\n" for n in range(2000)), encoding="utf-8"
    )
    # CliRunner's output is not a terminal: `auto` writes progress lines on stderr.
    result = ready.ok("import", "patrons", str(path), "--progress-every", "0")
    lines = result.stderr.splitlines()
    checking = [line for line in lines if line.startswith("checking:")]
    loading = [line for line in lines if line.startswith("loading:")]
    assert checking and loading
    assert "100%" in loading[-1] and "line 2,001" in loading[-1]
    assert "rows/s" in loading[-1] and "ETA done" in loading[-1]
    assert "imported 2000 patrons" in result.stdout
    quiet = ready.ok("import", "patrons", str(path), "--progress", "off")
    assert quiet.stderr == ""
