"""Schema migrations, driven from code.

Alembic revisions are the only way the schema is created or changed. This module is the one
door to them: the CLI (`sip2d db upgrade`) and the daemon call these functions, never the
``alembic`` command, so nothing depends on the working directory or on an ``alembic.ini``.
The :class:`alembic.config.Config` is built here, pointing at the revisions packaged inside
``sip2d.storage.migrations``, and the connection is handed to ``env.py`` through
``Config.attributes``; ``env.py`` never calls ``logging.config.fileConfig``, so running a
migration leaves the application's logging exactly as it was.

The daemon calls :func:`check_schema_current` at start-up and refuses to serve a database that
is behind (or ahead of) the code, with a message naming the command that fixes it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from sip2d.config import DatabaseConfig
from sip2d.storage.connect import connect_engine, probe
from sip2d.storage.errors import SchemaOutOfDate

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(
    *, connection: Connection | None = None, url: str | None = None, output: TextIO | None = None
) -> Config:
    """A Config for the packaged revisions; ``connection`` (online) or ``url`` (offline SQL)."""
    # Alembic's own chatter goes to a buffer nobody reads; offline SQL goes to ``output``.
    cfg = Config(stdout=io.StringIO(), output_buffer=output)
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The connection and URL travel as attributes, not main options: an option string would go
    # through ConfigParser interpolation, which chokes on the '%' of an escaped password.
    if connection is not None:
        cfg.attributes["connection"] = connection
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def head_revision() -> str:
    """The newest revision this version of sip2d ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migration revisions are packaged with sip2d")
    return head


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: the newest), in one transaction.

    Raises :class:`~sip2d.storage.errors.DatabaseUnavailable` when it cannot be reached.
    """
    engine = connect_engine(DatabaseConfig(url=url, pool_size=1), create=True)
    try:
        probe(engine)
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """As :func:`upgrade`, on an engine the caller owns (e.g. ``sip2d serve --demo``)."""
    # sqlite_write: BEGIN IMMEDIATE, so two processes migrating at once take turns.
    with engine.execution_options(sqlite_write=True).begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)


def upgrade_sql(url: str, output: TextIO, revision: str = "head") -> None:
    """Write the SQL that an upgrade from empty would run, for a DBA to review or apply."""
    command.upgrade(alembic_config(url=url, output=output), revision, sql=True)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; None for a database with no sip2d schema."""
    engine = connect_engine(DatabaseConfig(url=url, pool_size=1))
    try:
        probe(engine)
        return revision_of(engine)
    finally:
        engine.dispose()


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema_current(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDate` unless the database is at exactly the head revision."""
    current = revision_of(engine)
    head = head_revision()
    if current == head:
        return
    known = current is None or _is_known(current)
    raise SchemaOutOfDate(current, head, newer=not known)


def _is_known(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config())
    return any(rev.revision == revision for rev in script.walk_revisions())
