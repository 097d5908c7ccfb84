"""Every Prepared statement in sip2d, enumerated: records, dialects, and the plain route.

Statements are module constants, made at import. Importing every sip2d module and walking
``Prepared.every()`` finds all of them, including ones added after this test was written, so
the checks below need no list to keep up to date.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from sqlalchemy import Engine, bindparam, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

import sip2d
from sip2d.config import DatabaseConfig
from sip2d.storage import queries
from sip2d.storage.connect import connect_engine
from sip2d.storage.models import items, loan_policies, patrons
from sip2d.storage.prepared import PLAIN_ENV, Prepared, record_fields, route_plain
from sip2d.storage.records import ItemRecord, LoanPolicyRecord, PatronRecord
from tests.storage.factories import add_item, add_patron

# Modules whose import does something (Alembic's env.py migrates, __main__ runs the CLI).
SKIP = ("sip2d.storage.migrations",)


def every_sip2d_statement() -> list[Prepared[object]]:
    for module in pkgutil.walk_packages(sip2d.__path__, "sip2d."):
        if not module.name.startswith(SKIP) and not module.name.endswith(".__main__"):
            importlib.import_module(module.name)
    return [p for p in Prepared.every() if p.statement is not None]


DIALECTS: list[Dialect] = [sqlite.dialect(), postgresql.psycopg.dialect()]  # type: ignore[attr-defined]


def test_every_record_statement_returns_its_records_fields_in_order() -> None:
    statements = every_sip2d_statement()
    builders = [p for p in statements if p.record_type is not None]
    # The store's reads and RETURNING writes: a collapse of this number means the walk broke.
    assert len(builders) >= 20
    for prepared in builders:
        assert prepared.record_type is not None
        assert prepared.keys == record_fields(prepared.record_type), prepared.statement


def test_every_statement_compiles_on_both_backends() -> None:
    for prepared in every_sip2d_statement():
        for dialect in DIALECTS:
            assert prepared.compiled(dialect).sql


def test_the_patron_standing_row_holds_a_patron_then_a_policy() -> None:
    """The one composite row, sliced by position in patron_standing."""
    keys = queries._PATRON_STANDING.keys
    patron_width, policy_width = len(patrons.c), len(loan_policies.c)
    assert keys[:patron_width] == record_fields(PatronRecord)
    policy_keys = keys[patron_width : patron_width + policy_width]
    assert tuple(k.removeprefix("policy_") for k in policy_keys) == record_fields(LoanPolicyRecord)
    assert keys[patron_width + policy_width :] == ("charged", "overdue")


def test_a_record_in_the_wrong_order_is_refused_when_declared() -> None:
    shuffled = select(items.c.barcode, items.c.id, *list(items.c)[2:])
    with pytest.raises(TypeError, match="ItemRecord"):
        Prepared(shuffled, record=ItemRecord)
    undeclared = Prepared(select(items).where(items.c.id == bindparam("key")))
    with pytest.raises(TypeError, match="declare the record"):
        undeclared.record(None, {"key": 1})  # type: ignore[arg-type]


def test_plans_are_kept_per_dialect_object_not_per_name(tmp_path: object, engine: Engine) -> None:
    """Two SQLite engines with different paramstyles: one plan each, both right."""
    add_item(engine, "3000001", title="Dune")
    url = engine.url.render_as_string(hide_password=False)
    by_barcode = Prepared(
        select(items).where(items.c.barcode == bindparam("key")), record=ItemRecord
    )
    named = create_engine(url, paramstyle="named") if engine.dialect.name == "sqlite" else None
    try:
        for each in [engine, *([named] if named is not None else [])]:
            with each.connect() as conn:
                found = by_barcode.record(conn, {"key": "3000001"})
                assert found is not None and found.title == "Dune"
        if named is not None:
            assert by_barcode.compiled(named.dialect).sql != by_barcode.compiled(engine.dialect).sql
    finally:
        if named is not None:
            named.dispose()


def test_route_plain_sends_statements_through_conn_execute(engine: Engine) -> None:
    """The debugging route: engine events (and echo) see each statement, results unchanged."""
    add_patron(engine, "2000001", name="Ada")
    add_item(engine, "3000001", title="Dune")
    url = engine.url.render_as_string(hide_password=False)
    plain = create_engine(url)
    seen: list[str] = []
    event.listen(plain, "before_execute", lambda _c, clause, *_: seen.append(str(clause)))
    route_plain(plain)
    try:
        with engine.connect() as fast, plain.connect() as slow:
            for conn in (fast, slow):
                patron = queries.get_patron_by_barcode(conn, "2000001")
                assert patron is not None and patron.name == "Ada"
            assert queries.get_item_by_barcode(fast, "3000001") == queries.get_item_by_barcode(
                slow, "3000001"
            )
        assert any("FROM patrons" in sql for sql in seen)
        assert any("FROM items" in sql for sql in seen)
    finally:
        plain.dispose()


def test_the_environment_setting_routes_everything_but_transaction_control(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PLAIN_ENV, "1")
    read = Prepared(select(items.c.id).where(items.c.id == bindparam("key")))
    assert read.compiled(sqlite.dialect()).plain
    for control in ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK TO SAVEPOINT x", "SAVEPOINT x"):
        assert not Prepared(text(control)).compiled(sqlite.dialect()).plain
    monkeypatch.setenv(PLAIN_ENV, "0")
    assert not read.compiled(sqlite.dialect()).plain


def test_the_database_setting_routes_that_engine_only(
    migrated_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PLAIN_ENV, raising=False)  # make test's second run sets it
    plain = connect_engine(DatabaseConfig(url=migrated_url, pool_size=1, plain_statements=True))
    seen: list[object] = []
    for each in (plain, engine):
        event.listen(each, "before_execute", lambda _c, clause, *_: seen.append(clause))
    try:
        with plain.connect() as conn:
            assert queries.get_patron_by_barcode(conn, "nobody") is None
        assert len(seen) == 1
        with engine.connect() as conn:
            assert queries.get_patron_by_barcode(conn, "nobody") is None
        assert len(seen) == 1  # the fast engine's statement went to the driver
    finally:
        plain.dispose()
