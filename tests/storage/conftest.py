"""Fixtures for the store's tests: a migrated database on each engine and a cheap hasher.

The schema always comes from the real Alembic revisions, never from ``create_all``: run once
per process and engine, then copied for each test (``migrated_url``, tests/templates.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.auth.policy import PinPolicy
from sip2d.config import Argon2Config, DatabaseConfig, PinPolicyConfig
from sip2d.storage.engine import make_engine
from tests.templates import migrate

CHEAP = Argon2Config(memory_kib=64, time_cost=1, parallelism=1)


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    eng = make_engine(DatabaseConfig(pool_size=10), url=migrated_url)
    yield eng
    eng.dispose()


@pytest.fixture
def hasher() -> PinHasher:
    return PinHasher(CHEAP, Pepper.generate())


@pytest.fixture
def policy() -> PinPolicy:
    # Default rules, but up to 8 digits: tests use long PINs so a leak scan cannot match by
    # chance inside random bytes.
    return PinPolicy.from_config(PinPolicyConfig(max_length=8))


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite database, for property tests that run many examples on one file."""
    migrate(sqlite_url)
    eng = make_engine(DatabaseConfig(), url=sqlite_url)
    yield eng
    eng.dispose()
