"""Migrations: the revisions build exactly the models' schema, from code, on both engines,
and carry the data of an older schema over (and back)."""

from __future__ import annotations

import io
import logging
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, column, insert, inspect, literal, table, text, update

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
from sip2d.storage.models import Base, kiosk_accounts


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_from_empty_builds_exactly_the_models(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        # Only an upgrade creates a SQLite file; asking about an absent one says so (#17 item 4).
        with pytest.raises(DatabaseUnavailable, match="does not exist"):
            current_revision(database_url)
    else:
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
    # A newer sip2d: the packaged revisions plus one more on top of them.
    shipped = head_revision()
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "later_extra.py").write_text(
        '"""A later revision."""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "later"\ndown_revision = "{shipped}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        '    op.create_table("later", sa.Column("id", sa.Integer(), primary_key=True))\n\n\n'
        "def downgrade() -> None:\n"
        '    op.drop_table("later")\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", scripts)
    assert head_revision() == "later"
    engine = make_engine(DatabaseConfig(), url=migrated_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="run `sip2d db upgrade`") as caught:
            check_schema_current(engine)
        assert (caught.value.current, caught.value.head) == (shipped, "later")
        upgrade(migrated_url)
        check_schema_current(engine)
        assert "later" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _insert_as_0001(conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows into a table as revision 0001 left it: the models are at head, so not them."""
    columns = (column(key, literal(value).type) for key, value in rows[0].items())
    conn.execute(insert(table(name, *columns)), rows)


def _seed_revision_0001(engine: Engine) -> None:
    patron = dict(
        name="P", email="", phone="", address="", language="000", blocked=False, block_reason="",
        fine_balance_cents=0, profile="adult", pin_must_change=False, pin_failures=0,
    )  # fmt: skip
    account = dict(
        password_hash="x", institution_id="MAIN", location_code="", encoding="utf-8",
        error_detection="auto", terminator="CR", allowed_networks="", can_checkout=True,
        can_checkin=True, can_renew=True, can_fee_paid=True, can_hold=True, enabled=True,
    )  # fmt: skip
    item = dict(
        id=1, barcode="i1", title="T", author="", call_number="", media_type="001",
        permanent_location="", current_location="", circulation_status="04",
        security_marker="00", holding_library="", properties="", checkout_fee_cents=0,
    )  # fmt: skip
    at = datetime(2026, 1, 1)
    with engine.begin() as conn:
        _insert_as_0001(
            conn,
            "patrons",
            [
                {**patron, "id": 1, "barcode": "blocked", "blocked": True, "block_reason": "lost"},
                {**patron, "id": 2, "barcode": "free"},
            ],
        )
        _insert_as_0001(
            conn,
            "kiosk_accounts",
            [
                {**account, "id": 1, "login": "full", "can_status_update": True},
                {**account, "id": 2, "login": "plain", "can_status_update": False},
            ],
        )
        _insert_as_0001(conn, "items", [item])
        # A row that refers to both tables the revision alters: on SQLite, rebuilding a table
        # that others refer to fails while foreign keys are on, so this proves none is rebuilt.
        _insert_as_0001(
            conn,
            "loans",
            [
                dict(
                    item_id=1, patron_id=1, account_id=1, checked_out_at=at, due_at=at,
                    renewals=0, offline=False,
                )
            ],
        )  # fmt: skip


def _rows(engine: Engine, sql: str) -> dict[str, tuple[object, ...]]:
    with engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(text(sql))}


def test_revision_0002_splits_status_update_and_gives_old_blocks_to_staff(
    database_url: str,
) -> None:
    upgrade(database_url, "0001")
    engine = make_engine(DatabaseConfig(), url=database_url)
    try:
        _seed_revision_0001(engine)
        upgrade(database_url)
        assert schema_diff(engine) == []
        permissions = _rows(
            engine,
            "SELECT login, can_block_patron, can_enable_patron, can_item_status, can_offline, "
            "can_checkout FROM kiosk_accounts",
        )
        assert permissions == {
            "full": (True, True, True, False, True),
            "plain": (False, False, False, False, True),
        }
        blocks = _rows(engine, "SELECT barcode, blocked, block_reason, block_source FROM patrons")
        assert blocks == {"blocked": (True, "lost", "staff"), "free": (False, "", "")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM loans")).scalar_one() == 1
    finally:
        engine.dispose()


def test_revision_0002_downgrades_without_granting_more(database_url: str) -> None:
    upgrade(database_url, "0001")
    engine = make_engine(DatabaseConfig(), url=database_url)
    try:
        _seed_revision_0001(engine)
        upgrade(database_url)
        with engine.begin() as conn:
            # Staff took one family away from the full account after the upgrade.
            conn.execute(
                update(kiosk_accounts)
                .where(kiosk_accounts.c.login == "full")
                .values(can_item_status=False)
            )
            conn.execute(
                update(kiosk_accounts)
                .where(kiosk_accounts.c.login == "plain")
                .values(can_block_patron=True, can_enable_patron=True, can_item_status=True)
            )
        with engine.execution_options(sqlite_write=True).begin() as conn:
            command.downgrade(migrate.alembic_config(connection=conn), "0001")
        assert current_revision(database_url) == "0001"
        assert _rows(engine, "SELECT login, can_status_update FROM kiosk_accounts") == {
            "full": (False,),
            "plain": (True,),
        }
        columns = {c["name"] for c in inspect(engine).get_columns("kiosk_accounts")}
        assert not columns & {"can_block_patron", "can_enable_patron", "can_item_status"}
        assert "can_offline" not in columns
        assert "block_source" not in {c["name"] for c in inspect(engine).get_columns("patrons")}
        upgrade(database_url)
        assert _rows(engine, "SELECT login, can_block_patron, can_offline FROM kiosk_accounts") == {
            "full": (False, False),
            "plain": (True, False),
        }
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


def test_audit_trail_keeps_facts_and_refuses_secrets(engine: Engine) -> None:
    """Revision 0003's table takes an event in the caller's transaction and no secret keys."""
    from sip2d.storage.audit import recent_audit, record_audit

    with engine.begin() as conn:
        record_audit(
            conn,
            actor="cli:ops",
            action="patron.delete",
            subject="patron:2000001",
            detail={"loans": 0},
        )
        with pytest.raises(ValueError, match="secrets"):
            record_audit(conn, actor="web", action="pin.reset", detail={"new_pin": "1234"})
    with engine.connect() as conn:
        events = recent_audit(conn)
    assert [(e["actor"], e["action"], e["subject"], e["detail"]) for e in events] == [
        ("cli:ops", "patron.delete", "patron:2000001", '{"loans": 0}')
    ]
