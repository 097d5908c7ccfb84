"""The leak detector itself: it must find each encoding, scan side files, and never print the
secret it found."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest

from tests.auth.secret_scan import assert_secret_absent, encodings_of, find_secret

SECRET = "730519"


@pytest.mark.parametrize("name", sorted(encodings_of(SECRET)))
def test_each_encoding_is_found(name: str) -> None:
    blob = b"noise-" + encodings_of(SECRET)[name] + b"-noise"
    hits = find_secret(SECRET, blob)
    assert any(f"as {name} " in hit for hit in hits)
    with pytest.raises(AssertionError) as info:
        assert_secret_absent(SECRET, blob)
    assert SECRET not in str(info.value)


def test_forms_are_the_expected_bytes() -> None:
    forms = encodings_of(SECRET)
    assert forms["hex"] == b"373330353139"
    assert forms["base64"] == base64.b64encode(b"730519")
    assert forms["utf-16-le"] == b"7\x003\x000\x005\x001\x009\x00"


def test_clean_haystacks_pass(tmp_path: Path) -> None:
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing to see")
    assert_secret_absent(SECRET, "some text", b"some bytes", clean, tmp_path)


def test_sqlite_side_files_are_scanned(tmp_path: Path) -> None:
    db = tmp_path / "leak.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.execute("INSERT INTO t VALUES (?)", ("pin=" + SECRET,))
    conn.commit()
    try:
        assert Path(str(db) + "-wal").exists()
        hits = find_secret(SECRET, db)
        assert any(hit.startswith(f"{db}-wal:") for hit in hits)
    finally:
        conn.close()


def test_directories_are_scanned(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "daemon.log").write_bytes(SECRET.encode("utf-16-le"))
    hits = find_secret(SECRET, tmp_path)
    assert hits == [f"{tmp_path / 'logs' / 'daemon.log'}: found as utf-16-le at offset 0"]


def test_refuses_to_scan_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        assert_secret_absent(SECRET, tmp_path / "missing.db")
    with pytest.raises(ValueError, match="empty secret"):
        assert_secret_absent("", "text")
