"""Fixtures shared by the whole suite.

``database_url`` gives each test an empty database of its own on every engine: a fresh SQLite
file, and a throwaway PostgreSQL schema (selected through ``search_path``) in the database
named by ``SIP2D_TEST_DATABASE_URL``. Without that variable the PostgreSQL half skips and says
why; ``.ci/run`` always sets it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

settings.register_profile("sip2d", deadline=None, max_examples=200)
settings.load_profile("sip2d")

PG_ENV = "SIP2D_TEST_DATABASE_URL"
PG_SKIP_REASON = (
    f"PostgreSQL tests need {PG_ENV}, e.g. "
    "postgresql+psycopg://root@127.0.0.1:5432/test (.ci/run sets it)"
)


def sqlite_url_for(directory: Path) -> str:
    return f"sqlite:///{directory / 'sip2d-test.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_url_for(tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP_REASON)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each engine (not yet migrated)."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))
