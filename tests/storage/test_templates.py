"""The test template (tests/templates.py) gives the schema the real migrations give."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.migrate import current_revision, head_revision, upgrade
from tests.templates import migrate


def schema_of(url: str) -> dict[str, object]:
    engine = make_engine(DatabaseConfig(pool_size=1), url=url)
    try:
        found = inspect(engine)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
                sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)),
                sorted(str(u["column_names"]) for u in found.get_unique_constraints(table)),
                sorted(fk["referred_table"] for fk in found.get_foreign_keys(table)),
            )
            for table in sorted(found.get_table_names())
        }
    finally:
        engine.dispose()


@pytest.fixture
def empty_database(
    request: pytest.FixtureRequest, database_url: str
) -> Iterator[Callable[[], str]]:
    """Makes more empty databases on the engine of ``database_url``."""
    parsed = make_url(database_url)
    dropped: list[str] = []
    counter = iter(range(1000))

    def make() -> str:
        if parsed.get_backend_name() == "sqlite":
            return database_url.replace("sip2d-test.db", f"extra-{next(counter)}.db")
        schema = f"t_{uuid.uuid4().hex[:16]}"
        with request.getfixturevalue("postgres_admin").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        dropped.append(schema)
        query = {"options": f"-csearch_path={schema}"}
        return parsed.update_query_dict(query).render_as_string(hide_password=False)

    yield make
    for schema in dropped:
        with request.getfixturevalue("postgres_admin").connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_a_template_copy_matches_a_real_migration(
    database_url: str, empty_database: Callable[[], str]
) -> None:
    upgrade(database_url)  # every revision, for real
    migrate(empty_database())  # the process's first migrate() makes the template...
    copy = empty_database()
    migrate(copy)  # ...so this one is a copy
    assert current_revision(copy) == head_revision()
    upgrade(copy)  # at head already: nothing to do, no error
    real = schema_of(database_url)
    assert real and schema_of(copy) == real
