"""`sip2d bench seed` on both engines: what it writes, that the PINs verify, what it refuses."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from sip2d.auth.hashing import PinHasher
from sip2d.bench.dataset import BENCH_PINS, LOCATION, item_barcode, patron_barcode, patron_pin
from sip2d.config import load_config
from sip2d.storage.connect import open_engine
from sip2d.storage.models import items, kiosk_accounts, patrons
from tests.auth.secret_scan import assert_secret_absent
from tests.bench.conftest import KIOSK_PASSWORD, LOGIN, cli, write_config


def test_seed_writes_the_predictable_library(tmp_path: Path, database_url: str) -> None:
    config_path = write_config(tmp_path, database_url)
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    code, output = cli(
        "--config", str(config_path), "bench", "seed", "--patrons", "40", "--items", "90",
        "--login", LOGIN,
    )  # fmt: skip
    assert code == 0, output
    assert patron_barcode(0) in output and patron_barcode(39) in output
    assert item_barcode(89) in output
    assert_secret_absent(KIOSK_PASSWORD, output)

    config = load_config(config_path, env={})
    hasher = PinHasher.from_config(config.auth)
    engine = open_engine(config.database)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(patrons)).scalar() == 40
            assert conn.execute(select(func.count()).select_from(items)).scalar() == 90
            rows = conn.execute(select(patrons.c.barcode, patrons.c.pin_hash)).all()
            item_row = conn.execute(select(items).where(items.c.barcode == item_barcode(89))).one()
            account = conn.execute(
                select(kiosk_accounts).where(kiosk_accounts.c.login == "bench")
            ).one()
    finally:
        engine.dispose()
    by_barcode = dict(rows)
    for index in (0, 17, 39):
        record = by_barcode[patron_barcode(index)]
        assert hasher.verify(record, patron_pin(index)).ok
        assert not hasher.verify(record, patron_pin(index + 1)).ok
    # One record per distinct PIN, shared by the patrons who have that PIN.
    assert len(set(by_barcode.values())) == len(BENCH_PINS)
    assert item_row.permanent_location == LOCATION and item_row.circulation_status == "03"
    assert account.location_code == LOCATION
    assert hasher.verify(account.password_hash, KIOSK_PASSWORD).ok


def test_unique_salts_hash_every_patron(tmp_path: Path, sqlite_url: str) -> None:
    config_path = write_config(tmp_path, sqlite_url)
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    code, output = cli(
        "--config", str(config_path), "bench", "seed", "--patrons", "20", "--items", "0",
        "--login", LOGIN, "--unique-salts",
    )  # fmt: skip
    assert code == 0, output
    config = load_config(config_path, env={})
    engine = open_engine(config.database)
    try:
        with engine.connect() as conn:
            records = conn.execute(select(patrons.c.pin_hash)).scalars().all()
    finally:
        engine.dispose()
    assert len(set(records)) == 20


def test_seeding_twice_or_unmigrated_is_one_clear_line(tmp_path: Path, sqlite_url: str) -> None:
    config_path = write_config(tmp_path, sqlite_url)
    code, output = cli("--config", str(config_path), "bench", "seed", "--login", LOGIN)
    assert code == 1 and "sip2d db upgrade" in output and "Traceback" not in output
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    args = ("--config", str(config_path), "bench", "seed", "--patrons", "5", "--items", "5")
    assert cli(*args, "--login", LOGIN)[0] == 0
    code, output = cli(*args, "--login", LOGIN)
    assert code == 1
    assert "already holds bench patrons" in output
    assert len(output.strip().splitlines()) == 1


def test_a_malformed_login_is_refused_without_echoing_it(tmp_path: Path, sqlite_url: str) -> None:
    config_path = write_config(tmp_path, sqlite_url)
    code, output = cli("--config", str(config_path), "bench", "seed", "--login", "nocolon-9271x")
    assert code == 2
    assert "USER:PASSWORD" in output
    assert "nocolon-9271x" not in output
