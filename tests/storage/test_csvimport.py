"""CSV import: all-or-nothing by default, rejects with --skip-invalid, upserts, PINs hashed."""

from __future__ import annotations

import csv
from pathlib import Path

import bcrypt
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update

from sip2d.auth.hashing import PinHasher
from sip2d.auth.policy import PinPolicy
from sip2d.storage.csvimport import (
    ITEMS,
    PATRONS,
    ImportFileError,
    ImportRefused,
    default_rejects_path,
    import_csv,
)
from sip2d.storage.models import items, patrons
from tests.auth.secret_scan import assert_secret_absent

PIN = "73915268"
OTHER_PIN = "58204617"


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def patron_rows(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        return {
            row.barcode: dict(row._mapping)
            for row in conn.execute(select(patrons).order_by(patrons.c.barcode))
        }


BAD_FILE = (
    "barcode,name,email,expires,pin,blocked\n"  # line 1
    f"100,Ann,ann@example.org,2027-01-01,{PIN},no\n"  # 2 good
    f"101,Bob,,2027-13-01,{OTHER_PIN},\n"  # 3 bad date
    "102,Cy,,,1234,\n"  # 4 PIN on the denylist
    '103,"Di\nNewline",,,,yes\n'  # 5-6 bad: a quoted field over two lines, with a newline
    f"104,Eve, Jr,,,{OTHER_PIN},\n"  # 7 unquoted comma: one field too many
    "105,Fay,,,,maybe\n"  # 8 bad boolean
    "\n"  # 9 blank, ignored
    "106,Gus,,,,\n"  # 10 good
    ",NoBarcode,,,,\n"  # 11 bad: empty barcode
)


def test_a_bad_row_refuses_the_whole_file(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    path = write(tmp_path / "patrons.csv", BAD_FILE)
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, PATRONS, path, hasher=hasher, policy=policy)
    refused = caught.value
    assert refused.count == 6
    assert [(bad.line, bad.reason.split(":")[0]) for bad in refused.first] == [
        (3, "expires"),
        (4, "pin"),
        (5, "name"),
        (7, "expected 6 fields, found 7"),
        (8, "blocked"),
        (11, "barcode"),
    ]
    assert "--skip-invalid" in str(refused)
    assert patron_rows(engine) == {}
    assert not default_rejects_path(path).exists()
    assert_secret_absent(PIN, str(refused), *(str(bad) for bad in refused.first))
    assert_secret_absent(OTHER_PIN, str(refused), *(str(bad) for bad in refused.first))


def test_skip_invalid_loads_good_rows_and_writes_rejects_without_pins(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    path = write(tmp_path / "patrons.csv", BAD_FILE)
    result = import_csv(engine, PATRONS, path, hasher=hasher, policy=policy, skip_invalid=True)
    assert (result.loaded, result.inserted, result.updated, result.rejected) == (2, 2, 0, 6)
    assert result.pins_hashed == 1
    assert result.rejects_path == tmp_path / "patrons.rejects.csv"

    rows = patron_rows(engine)
    assert sorted(rows) == ["100", "106"]
    ann = rows["100"]
    assert hasher.verify(str(ann["pin_hash"]), PIN).ok
    assert ann["pin_must_change"] is False
    assert rows["106"]["pin_hash"] is None and rows["106"]["pin_must_change"] is True

    with result.rejects_path.open(encoding="utf-8", newline="") as fh:
        rejects = list(csv.DictReader(fh))
    assert [r["line"] for r in rejects] == ["3", "4", "5", "7", "8", "11"]
    assert rejects[0]["barcode"] == "101" and rejects[0]["expires"] == "2027-13-01"
    assert rejects[0]["reason"].startswith("expires:")
    assert all(r["pin"] == "" for r in rejects)
    # The ragged row's fields are shifted, so none of them is kept.
    assert rejects[2]["name"] == "Di\nNewline"
    assert set(rejects[3].values()) == {"", "7", "expected 6 fields, found 7"}
    raw = result.rejects_path.read_bytes()
    assert_secret_absent(OTHER_PIN, raw)
    assert_secret_absent("1234,", raw)


def test_reimport_updates_instead_of_duplicating(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    first = write(
        tmp_path / "a.csv",
        f"barcode,name,profile,pin\n200,Old Name,adult,{PIN}\n201,Other,child,\n",
    )
    result = import_csv(engine, PATRONS, first, hasher=hasher, policy=policy)
    assert (result.inserted, result.updated) == (2, 0)
    original_hash = patron_rows(engine)["200"]["pin_hash"]
    with engine.begin() as conn:
        conn.execute(
            update(patrons)
            .where(patrons.c.barcode == "200")
            .values(pin_failures=4, blocked=True, block_source="kiosk")
        )

    # No pin column and no blocked column: PIN state and the block are left alone.
    second = write(tmp_path / "b.csv", "barcode,name\n200,New Name\n202,Third\n")
    result = import_csv(engine, PATRONS, second, hasher=hasher, policy=policy)
    assert (result.loaded, result.inserted, result.updated) == (2, 1, 1)
    rows = patron_rows(engine)
    assert len(rows) == 3
    assert rows["200"]["name"] == "New Name"
    assert rows["200"]["profile"] == "adult"
    assert rows["200"]["pin_hash"] == original_hash
    assert (rows["200"]["pin_failures"], rows["200"]["blocked"]) == (4, True)
    assert rows["200"]["block_source"] == "kiosk"
    assert rows["201"]["profile"] == "child"

    # A new PIN replaces the old one and clears the failures.
    third = write(tmp_path / "c.csv", f"barcode,name,pin\n200,New Name,{OTHER_PIN}\n201,Other,\n")
    import_csv(engine, PATRONS, third, hasher=hasher, policy=policy)
    rows = patron_rows(engine)
    assert hasher.verify(str(rows["200"]["pin_hash"]), OTHER_PIN).ok
    assert rows["200"]["pin_failures"] == 0 and rows["200"]["pin_must_change"] is False
    # An empty pin cell keeps whatever the patron had (here: nothing, must change).
    assert rows["201"]["pin_hash"] is None and rows["201"]["pin_must_change"] is True


def test_blocks_from_a_file_are_staff_blocks(engine: Engine, tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", "barcode,name,blocked\n300,Ann,yes\n301,Ben,no\n302,Cy,\n")
    import_csv(engine, PATRONS, first)
    rows = patron_rows(engine)
    assert [(rows[b]["blocked"], rows[b]["block_source"]) for b in ("300", "301", "302")] == [
        (True, "staff"),
        (False, ""),
        (False, ""),
    ]
    with engine.begin() as conn:
        conn.execute(
            update(patrons)
            .where(patrons.c.barcode.in_(["301", "302"]))
            .values(blocked=True, block_source="kiosk")
        )
    # Re-imported: a block the file confirms becomes staff's; one it clears is lifted.
    second = write(tmp_path / "b.csv", "barcode,name,blocked\n300,Ann,no\n301,Ben,yes\n302,Cy,no\n")
    import_csv(engine, PATRONS, second)
    rows = patron_rows(engine)
    assert [(rows[b]["blocked"], rows[b]["block_source"]) for b in ("300", "301", "302")] == [
        (False, ""),
        (True, "staff"),
        (False, ""),
    ]


def test_legacy_bcrypt_hashes_are_stored_as_given(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    legacy = bcrypt.hashpw(PIN.encode(), bcrypt.gensalt(rounds=4)).decode()
    legacy_2y = "$2y$" + legacy[4:]
    path = write(
        tmp_path / "p.csv",
        "barcode,name,pin_hash\n"
        f"300,Legacy,{legacy}\n"
        f"301,Legacy Y,{legacy_2y}\n"
        "302,Broken,$2b$10$tooshort\n"
        f"303,Same Hash Again,{legacy}\n",
    )
    result = import_csv(engine, PATRONS, path, hasher=hasher, policy=policy, skip_invalid=True)
    assert result.rejected == 1
    rows = patron_rows(engine)
    assert rows["300"]["pin_hash"] == legacy and rows["301"]["pin_hash"] == legacy_2y
    assert rows["300"]["pin_must_change"] is False
    verified = hasher.verify(str(rows["300"]["pin_hash"]), PIN)
    assert verified.ok and verified.upgraded is not None


def test_pin_and_pin_hash_together_is_a_bad_row(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    record = hasher.hash(PIN)
    # An argon2 record contains commas (m=..,t=..,p=..), so a CSV writer quotes it.
    path = write(tmp_path / "p.csv", f'barcode,name,pin,pin_hash\n1,A,{OTHER_PIN},"{record}"\n')
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, PATRONS, path, hasher=hasher, policy=policy)
    assert "both" in caught.value.first[0].reason


def test_batches_and_parallel_hashing(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    lines = ["barcode,name,pin"]
    pins = {}
    for n in range(40):
        pin = f"{(73915268 + n * 7919) % 100_000_000:08d}"
        pins[f"B{n:03d}"] = pin
        lines.append(f"B{n:03d},Patron {n},{pin}")
    path = write(tmp_path / "p.csv", "\n".join(lines) + "\n")
    result = import_csv(
        engine, PATRONS, path, hasher=hasher, policy=policy, batch_rows=3, workers=3
    )
    assert result.pins_hashed == 40
    rows = patron_rows(engine)
    assert len(rows) == 40
    for barcode in ("B000", "B017", "B039"):
        assert hasher.verify(str(rows[barcode]["pin_hash"]), pins[barcode]).ok
    assert len({row["pin_hash"] for row in rows.values()}) == len(rows)


def test_a_barcode_repeated_in_one_file_is_a_bad_row_every_time(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "p.csv",
        "barcode,name\nB1,First\nB2,Two\nB1,Again\nB3,Three\nB1,Third time\nB2,Twice\n",
    )
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, PATRONS, path, hasher=hasher, policy=policy)
    refused = caught.value
    assert refused.count == 5
    assert [bad.line for bad in refused.first] == [2, 3, 4, 6, 7]
    assert "'B1' appears 3 times in this file (also on line 4, 6)" in refused.first[0].reason
    assert "also on line 3" in refused.first[4].reason
    assert patron_rows(engine) == {}
    # With --skip-invalid neither version of a repeated barcode is loaded: a person decides.
    result = import_csv(engine, PATRONS, path, hasher=hasher, policy=policy, skip_invalid=True)
    assert (result.loaded, result.rejected) == (1, 5)
    assert list(patron_rows(engine)) == ["B3"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"barcode,name,shoe_size\n1,A,44\n", "unknown column(s) 'shoe_size'"),
        (b"barcode,email\n1,a@b\n", "missing required column(s): name"),
        (b"barcode,name,name\n1,A,B\n", "given twice: name"),
        (b"\xffbarcode,name\n", "header line is not UTF-8"),
        (b'barcode,name\n1,"unterminated\n', "not valid CSV"),
    ],
)
def test_file_level_problems_write_nothing(
    engine: Engine,
    hasher: PinHasher,
    policy: PinPolicy,
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_csv(engine, PATRONS, path, hasher=hasher, policy=policy, skip_invalid=True)
    assert patron_rows(engine) == {}


def test_bom_crlf_and_undecodable_rows(
    engine: Engine, hasher: PinHasher, policy: PinPolicy, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfBarcode , NAME\r\n1,Ann\r\n2,Bj\xf6rn\r\n3,Chlo\xc3\xa9\r\n")
    result = import_csv(engine, PATRONS, path, hasher=hasher, policy=policy, skip_invalid=True)
    assert (result.loaded, result.rejected) == (2, 1)
    assert {b: r["name"] for b, r in patron_rows(engine).items()} == {"1": "Ann", "3": "Chloé"}
    assert result.rejects_path is not None
    # The rejected row keeps its bytes (and the file its BOM and CRLF), so it can be fixed.
    assert result.rejects_path.read_bytes() == (
        b"\xef\xbb\xbfBarcode , NAME,line,reason\r\n"
        b"2,Bj\xf6rn,3,not valid UTF-8 (see --encoding)\r\n"
    )


def test_items_import_and_location_update(engine: Engine, tmp_path: Path) -> None:
    first = write(
        tmp_path / "items.csv",
        "barcode,title,author,media_type,location,checkout_fee\n"
        "3001,Dune,Herbert,001,MAIN,\n"
        "3002,Spirited Away,Miyazaki,005,AV,1.50\n",
    )
    result = import_csv(engine, ITEMS, first)
    assert (result.loaded, result.inserted) == (2, 2)
    with engine.begin() as conn:
        conn.execute(
            update(items).where(items.c.barcode == "3001").values(current_location="TRANSIT")
        )
    second = write(tmp_path / "again.csv", "barcode,title,location\n3001,Dune (2nd ed.),BRANCH\n")
    result = import_csv(engine, ITEMS, second)
    assert (result.inserted, result.updated) == (0, 1)
    with engine.connect() as conn:
        got = {r.barcode: r for r in conn.execute(select(items).order_by(items.c.barcode))}
    assert got["3001"].title == "Dune (2nd ed.)"
    assert (got["3001"].permanent_location, got["3001"].current_location) == ("BRANCH", "TRANSIT")
    assert got["3001"].author == "Herbert"
    assert (got["3002"].media_type, got["3002"].checkout_fee_cents) == ("005", 150)
    assert got["3002"].current_location == "AV"


def test_bad_item_rows_are_refused(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "items.csv",
        "barcode,title,media_type,circulation_status,checkout_fee\n"
        "1,A,01,03,\n"
        "2,B,001,14,\n"
        "3,C|D,001,03,\n"
        "4,D,001,03,0.001\n"
        "5,,001,03,\n",
    )
    with pytest.raises(ImportRefused) as caught:
        import_csv(engine, ITEMS, path)
    reasons = [bad.reason.split(":")[0] for bad in caught.value.first]
    assert reasons == ["media_type", "circulation_status", "title", "checkout_fee", "title"]


def test_pin_file_without_a_hasher_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "barcode,name,pin\n1,A,\n")
    with pytest.raises(ImportFileError, match="hasher"):
        import_csv(engine, PATRONS, path)


ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


def mostly(*valid: str) -> st.SearchStrategy[str]:
    """One of ``valid`` nine times in ten, else arbitrary text: files load often enough."""
    return st.tuples(st.integers(0, 9), st.sampled_from(valid), ANY_TEXT).map(
        lambda t: t[2] if t[0] == 0 else t[1]
    )


GOOD_SHAPE = st.tuples(
    mostly("1", "B2", "C-3"),
    mostly("Ann", "Chloé"),
    mostly("", "2030-01-31"),
    mostly("", "yes", "no"),
    mostly("", "7"),
).map(list)
ANY_SHAPE = st.lists(ANY_TEXT, min_size=4, max_size=6)
ROW = st.lists(
    st.tuples(st.integers(0, 9), GOOD_SHAPE, ANY_SHAPE).map(lambda t: t[2] if t[0] == 0 else t[1]),
    max_size=6,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROW)
def test_any_file_is_loaded_whole_or_refused_whole(
    sqlite_engine: Engine, tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "p.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["barcode", "name", "expires", "blocked", "loan_limit"])
        writer.writerows(rows)
    with sqlite_engine.begin() as conn:
        conn.execute(patrons.delete())
    try:
        result = import_csv(sqlite_engine, PATRONS, path)
    except ImportRefused as refused:
        event("refused")
        assert refused.count >= 1
        assert patron_rows(sqlite_engine) == {}
        return
    except ImportFileError:
        assert patron_rows(sqlite_engine) == {}
        return
    event("loaded")
    stored = patron_rows(sqlite_engine)
    assert result.inserted == len(stored)
    assert {row[0].strip() for row in rows} == set(stored)
