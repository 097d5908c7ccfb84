"""Migrated test databases without running the migrations for every test.

Running the Alembic revisions costs ~0.3 s a test on PostgreSQL (loading the revisions, building
and compiling each operation) and ~40 ms on SQLite, for the same schema every time.
:func:`migrate` runs them for real once per process and engine, then gives every later test a
copy of the result:

* SQLite: the first migrated file is copied aside (the template); later tests get a file copy.
* PostgreSQL: each test keeps its own schema (named per test in tests/conftest.py, so parallel
  runs from other checkouts never meet). The first migration is recorded at the driver, every
  statement with its parameters, exactly as Alembic sent it; later schemas replay that record
  in one transaction on one connection kept for the run, statements without parameters
  batched into one round trip. Everything is unqualified and runs under ``SET LOCAL
  search_path``, so it lands in the test's schema; a record that names its own schema is
  refused and the tests fall back to real migrations.

``tests/storage/test_migrations.py`` and the CLI's ``db upgrade`` tests still run every
revision for real, on empty databases of their own.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.migrate import upgrade, upgrade_engine

_lock = threading.RLock()
_sqlite_template: Path | None = None
# Per PostgreSQL server and database (the URL without its search_path option).
_recordings: dict[str, Recording | None] = {}


@dataclass(frozen=True)
class Recording:
    """Driver calls of one migration: (SQL, parameters, executemany) in order."""

    calls: tuple[tuple[str, Any, bool], ...]


def migrate(url: str) -> None:
    """Bring the empty database at ``url`` to the head revision, from a template when possible."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _migrate_sqlite(url, parsed)
    elif _search_path(parsed):
        _migrate_postgresql(url, parsed)
    else:
        upgrade(url)


def _migrate_sqlite(url: str, parsed: URL) -> None:
    global _sqlite_template
    target = Path(parsed.database or "")
    with _lock:
        template = _sqlite_template
    if template is None or not parsed.database or target.exists():
        upgrade(url)
        if template is None and parsed.database and not _sidecars(target):
            with _lock:
                if _sqlite_template is None:
                    _sqlite_template = _keep(target)
        return
    shutil.copyfile(template, target)


def _sidecars(path: Path) -> bool:
    """A -wal or -shm file means the main file alone is not the whole database."""
    return any(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-shm"))


def _keep(migrated: Path) -> Path:
    directory = Path(tempfile.mkdtemp(prefix="sip2d-template-"))
    atexit.register(shutil.rmtree, directory, True)
    template = directory / "migrated.db"
    shutil.copyfile(migrated, template)
    return template


def _search_path(parsed: URL) -> str:
    options = parsed.query.get("options", "")
    text = options if isinstance(options, str) else " ".join(options)
    for part in text.split():
        if part.startswith("-csearch_path="):
            return part.removeprefix("-csearch_path=")
    return ""


def _migrate_postgresql(url: str, parsed: URL) -> None:
    key = parsed.difference_update_query(["options"]).render_as_string(hide_password=False)
    with _lock:
        known = key in _recordings
        recording = _recordings.get(key)
    if not known:
        recording = _record(url, _search_path(parsed))
        with _lock:
            _recordings.setdefault(key, recording)
        return
    if recording is None:
        upgrade(url)
        return
    _replay(url, _search_path(parsed), recording)


def _record(url: str, schema: str) -> Recording | None:
    """Migrate for real, keeping every driver call; None if the calls name the schema."""
    engine = make_engine(DatabaseConfig(url=url, pool_size=1))
    calls: list[tuple[str, Any, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _keep_call(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        calls.append((sql, params, many))

    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()
    if any(schema in sql or schema in repr(params) for sql, params, _ in calls):
        return None
    if any("%" in sql and not params for sql, params, _ in calls):
        # Sent without parameters, '%%' stays as it is; replayed with none it would too, but
        # whether SQLAlchemy sent None or {} is not visible here. Do not guess.
        return None
    return Recording(tuple(calls))


def _replay(url: str, schema: str, recording: Recording) -> None:
    """Run the recorded calls in ``schema``, on one connection kept for the whole run."""
    engine = _replay_engine(url)
    with _lock, engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        quoted = schema.replace('"', '""')
        cursor.execute(f'SET LOCAL search_path TO "{quoted}"')
        batch: list[str] = []
        for sql, params, many in recording.calls:
            if not params:  # no '%' in these (see _record): safe to send together
                batch.append(sql)
                continue
            if batch:
                cursor.execute(";\n".join(batch))
                batch.clear()
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
        if batch:
            cursor.execute(";\n".join(batch))
        cursor.close()


_replay_engines: dict[str, Engine] = {}


def _replay_engine(url: str) -> Engine:
    """One engine per server and database for replays, without the test's search_path."""
    key = make_url(url).difference_update_query(["options"])
    name = key.render_as_string(hide_password=False)
    with _lock:
        engine = _replay_engines.get(name)
        if engine is None:
            engine = _replay_engines[name] = create_engine(key, pool_size=1, max_overflow=0)
            atexit.register(engine.dispose)
    return engine
