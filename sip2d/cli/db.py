"""`sip2d db`: migrate the database, and the one way every data command opens it.

``upgrade`` and ``current`` are the operator's view of :mod:`sip2d.storage.migrate`.
:func:`open_database` is what ``patron``, ``item``, ``account``, ``import`` and ``demo`` use:
it connects, refuses a database whose schema is not current (naming ``sip2d db upgrade``),
and turns every storage or driver error into one line and exit status 1, so a user mistake
never ends in a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from sip2d.cli.common import CliState, pass_state
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.connect import display_url, open_engine
from sip2d.storage.errors import SchemaOutOfDate, StorageError, first_line
from sip2d.storage.migrate import check_schema_current, head_revision, revision_of, upgrade_engine
from sip2d.storage.migrate import upgrade_sql as write_upgrade_sql


@contextmanager
def storage_errors() -> Iterator[None]:
    """Report StorageError and driver errors as a one-line ClickException."""
    try:
        yield
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"database error: {first_line(exc)}") from None


@contextmanager
def open_database(
    state: CliState, *, check_schema: bool = True, create: bool = False
) -> Iterator[Engine]:
    """A connected engine for the configured database, disposed of on exit.

    Only ``create`` (``db upgrade``) may bring a new SQLite file into being.
    """
    with storage_errors():
        engine = open_engine(state.config.database, create=create)
        try:
            if check_schema:
                check_schema_current(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def writing(state: CliState) -> Iterator[Connection]:
    """One write transaction on the configured database: committed when the block ends,
    rolled back when it raises (a refused delete leaves nothing half done)."""
    with (
        open_database(state) as engine,
        engine.execution_options(sqlite_write=True).begin() as conn,
    ):
        yield conn


def apply_update(
    state: CliState,
    kind: str,
    key: str,
    changes: dict[str, object],
    update: Callable[[Connection, str, dict[str, object]], None],
) -> None:
    """The staff edit of one record (``sip2d patron update``, ``sip2d item update``): the
    changed columns written and audited in one transaction, and said in one line."""
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    with writing(state) as conn:
        update(conn, key, changes)
        record_audit(
            conn,
            actor=cli_actor(),
            action=f"{kind}.update",
            subject=f"{kind}:{key}",
            detail={"fields": sorted(changes)},
        )
    click.echo(f"{kind} {key} updated: {', '.join(sorted(changes))}")


@contextmanager
def reading(state: CliState) -> Iterator[Connection]:
    """A connection for reads on the configured database."""
    with open_database(state) as engine, engine.connect() as conn:
        yield conn


@click.group(name="db")
def command() -> None:
    """Create and migrate the database schema."""


@command.command("upgrade")
@click.option(
    "--sql",
    "sql",
    is_flag=True,
    help="Print the SQL of a full upgrade from empty instead of running it (for a DBA).",
)
@pass_state
def upgrade_command(state: CliState, sql: bool) -> None:
    """Bring the database schema up to this version of sip2d (safe to run again)."""
    url = state.config.database.url
    if sql:
        with storage_errors():
            write_upgrade_sql(url, sys.stdout)
        return
    with open_database(state, check_schema=False, create=True) as engine:
        before = revision_of(engine)
        upgrade_engine(engine)
        after = revision_of(engine)
    where = display_url(url)
    if before == after:
        click.echo(f"{where}: already at revision {after} (the newest)")
    else:
        click.echo(f"{where}: upgraded from {before or 'empty'} to revision {after}")


@command.command("current")
@pass_state
def current_command(state: CliState) -> None:
    """Show the database's schema revision and the one this sip2d needs (exit 1 if behind)."""
    with open_database(state, check_schema=False) as engine:
        current = revision_of(engine)
        try:
            check_schema_current(engine)
            problem = None
        except SchemaOutOfDate as exc:
            problem = str(exc)
    click.echo(f"database: {display_url(state.config.database.url)}")
    click.echo(f"current revision: {current or 'none (empty database)'}")
    click.echo(f"head revision:    {head_revision()}")
    if problem is None:
        click.echo("up to date")
        return
    click.echo(problem)
    raise click.exceptions.Exit(1)
