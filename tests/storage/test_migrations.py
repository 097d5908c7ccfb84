"""Migrations: the revisions build exactly the models' schema, from code, on both engines."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from sip2d.config import DatabaseConfig
from sip2d.storage import migrate
from sip2d.storage.engine import make_engine
from sip2d.storage.errors import DatabaseUnavailable, SchemaOutOfDate
from sip2d.storage.migrate import (
    check_schema_current,
    current_revision,
    head_revision,
    upgrade,
    upgrade_sql,
)
from sip2d.storage.models import Base


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_from_empty_builds_exactly_the_models(database_url: str) -> None:
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    engine = make_engine(DatabaseConfig(), url=database_url)
    try:
        assert schema_diff(engine) == []
        check_schema_current(engine)
    finally:
        engine.dispose()


def test_the_comparison_does_catch_drift(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_fees_patron_id"))
    diff = schema_diff(engine)
    assert [entry[0] for entry in diff] == ["add_index"]  # type: ignore[index]


def test_open_loan_index_is_unique_and_partial(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        sql = "SELECT sql FROM sqlite_master WHERE name = 'uq_loans_open_item'"
    else:
        sql = (
            "SELECT indexdef FROM pg_indexes "
            "WHERE indexname = 'uq_loans_open_item' AND schemaname = current_schema()"
        )
    with engine.connect() as conn:
        definition = conn.execute(text(sql)).scalar_one()
    assert "UNIQUE" in definition.upper()
    assert "returned_at IS NULL" in definition


def test_upgrade_twice_is_harmless(migrated_url: str) -> None:
    upgrade(migrated_url)
    assert current_revision(migrated_url) == head_revision()


def test_empty_database_is_not_current(database_url: str) -> None:
    engine = make_engine(DatabaseConfig(), url=database_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="run `sip2d db upgrade`") as caught:
            check_schema_current(engine)
    finally:
        engine.dispose()
    assert caught.value.current is None
    assert caught.value.head == head_revision()


def test_database_behind_the_code_is_refused_until_upgraded(
    migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A newer sip2d: the packaged revisions plus one more.
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0002_extra.py").write_text(
        '"""A later revision."""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        'revision = "0002"\ndown_revision = "0001"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n"
        '    op.create_table("later", sa.Column("id", sa.Integer(), primary_key=True))\n\n\n'
        "def downgrade() -> None:\n"
        '    op.drop_table("later")\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", scripts)
    assert head_revision() == "0002"
    engine = make_engine(DatabaseConfig(), url=migrated_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="run `sip2d db upgrade`") as caught:
            check_schema_current(engine)
        assert (caught.value.current, caught.value.head) == ("0001", "0002")
        upgrade(migrated_url)
        check_schema_current(engine)
        assert "later" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_database_ahead_of_the_code_says_to_upgrade_sip2d(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaOutOfDate, match="upgrade sip2d") as caught:
        check_schema_current(engine)
    assert caught.value.newer


def test_migrating_leaves_the_application_logging_alone(database_url: str) -> None:
    root = logging.getLogger()
    app = logging.getLogger("sip2d.test.app")
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        handlers, level = list(root.handlers), root.level
        upgrade(database_url)
        assert root.handlers == handlers
        assert root.level == level
        # logging.config.fileConfig would have disabled every existing logger.
        assert not app.disabled
    finally:
        root.removeHandler(handler)


def test_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    with pytest.raises(DatabaseUnavailable, match="cannot reach database") as caught:
        upgrade(url)
    assert "\n" not in str(caught.value)


def test_offline_sql_for_a_dba() -> None:
    out = io.StringIO()
    upgrade_sql("postgresql+psycopg://user@db.invalid/lib", out)
    sql = out.getvalue()
    assert "CREATE TABLE patrons" in sql
    assert (
        "CREATE UNIQUE INDEX uq_loans_open_item ON loans (item_id) WHERE returned_at IS NULL" in sql
    )
    assert "(now() AT TIME ZONE 'utc')" in sql
