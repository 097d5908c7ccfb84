"""Fixtures for the auth tests: a cheap hasher and a schema-ready database on both engines.

Tests use argon2 at 64 KiB / t=1 so hundreds of hashes take milliseconds; one test in
test_hashing proves the production defaults. The database fixture builds the schema through the
real Alembic migrations, as a deployment does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.config import Argon2Config, DatabaseConfig
from sip2d.storage import models
from sip2d.storage.engine import make_engine
from tests.templates import migrate

CHEAP = Argon2Config(memory_kib=64, time_cost=1, parallelism=1)
NOW = datetime(2025, 3, 4, 10, 0, 0)


@pytest.fixture
def pepper() -> Pepper:
    return Pepper.generate()


@pytest.fixture
def hasher(pepper: Pepper) -> PinHasher:
    return PinHasher(CHEAP, pepper)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    migrate(database_url)
    eng = make_engine(DatabaseConfig(pool_size=4), url=database_url)
    yield eng
    eng.dispose()


def add_patron(engine: Engine, barcode: str, pin_hash: str | None, **values: Any) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(models.Patron)
                .values(barcode=barcode, pin_hash=pin_hash, **values)
                .returning(models.Patron.id)
            ).scalar_one()
        )


def patron_row(engine: Engine, patron_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(models.patrons).where(models.patrons.c.id == patron_id)).one()
