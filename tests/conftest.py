"""Fixtures shared by the whole suite.

``database_url`` gives each test an empty database of its own on every engine: a fresh SQLite
file, and a throwaway PostgreSQL schema (selected through ``search_path``) in the database
named by ``SIP2D_TEST_DATABASE_URL``. ``migrated_url`` is the same database at the head
revision, copied from a template rather than migrated again (tests/templates.py). Without
that variable the PostgreSQL half skips and says why; ``.ci/run`` always sets it.
"""

from __future__ import annotations

import functools
import inspect
import os
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text

from tests.templates import migrate

settings.register_profile("sip2d", deadline=None, max_examples=200)
settings.load_profile("sip2d")

PG_ENV = "SIP2D_TEST_DATABASE_URL"
PG_SKIP_REASON = (
    f"PostgreSQL tests need {PG_ENV}, e.g. "
    "postgresql+psycopg://root@127.0.0.1:5432/test (.ci/run sets it)"
)


# Of pytest-timeout's limit per test, the share after which a trio test is cancelled from
# inside its own event loop (see pytest_runtest_call below).
TRIO_SHARE_OF_TIMEOUT = 0.8


def _timeout_of(item: pytest.Item) -> float:
    """pytest-timeout's limit for ``item``: its marker, else --timeout, else the ini value."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    option = item.config.getoption("timeout", None)
    if option is not None:
        return float(option)
    return float(item.config.getini("timeout") or 0)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Bound each trio test with ``trio.fail_after``, inside the trio run.

    pytest-timeout's signal fails a test by raising from a signal handler, which for a trio
    test lands inside trio's own machinery: that run is left broken and every later trio test
    errors. Cancelling from the test's own cancel scope a little earlier fails only the hung
    test, with its stack, and the run goes on. pytest-timeout still catches what trio cannot
    cancel (a blocked thread, a sync test).
    """
    function = getattr(item, "obj", None)
    limit = _timeout_of(item) * TRIO_SHARE_OF_TIMEOUT
    if (
        limit > 0
        and item.get_closest_marker("trio") is not None
        and inspect.iscoroutinefunction(function)
        and not hasattr(function, "hypothesis")
    ):
        item.obj = _bounded(function, limit)  # type: ignore[attr-defined]
    yield


def _bounded(test: Callable[..., Awaitable[Any]], seconds: float) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(test)
    async def run(**fixtures: Any) -> Any:
        with trio.fail_after(seconds):
            return await test(**fixtures)

    return run


def sqlite_url_for(directory: Path) -> str:
    return f"sqlite:///{directory / 'sip2d-test.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_url_for(tmp_path)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """One autocommit connection pool for creating and dropping the tests' schemas."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP_REASON)
    admin = create_engine(base, isolation_level="AUTOCOMMIT", pool_size=1)
    yield admin
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each engine (not yet migrated)."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """``database_url`` at the head revision, copied from a template (tests/templates.py)."""
    migrate(database_url)
    return database_url
