"""Opening a database and saying plainly why it cannot be opened.

Driver errors are long, multi-line and sometimes carry the URL with its password. Everything
that opens a database goes through here so an operator sees one line naming the database
(password hidden) and the first line of the driver's complaint, as a
:class:`~sip2d.storage.errors.DatabaseUnavailable`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from sip2d.config import DatabaseConfig, database_url_problem
from sip2d.storage.engine import make_engine
from sip2d.storage.errors import DatabaseUnavailable, first_line
from sip2d.storage.prepared import route_plain


def display_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def connect_engine(
    config: DatabaseConfig, *, url: str | None = None, create: bool = False
) -> Engine:
    """:func:`make_engine` that reports a bad URL or missing driver as DatabaseUnavailable.

    A SQLite file that does not exist is refused unless ``create`` (only ``sip2d db upgrade``
    and the self-contained demo create databases): a typo in the path must not leave an empty
    database behind and run against it.
    """
    target = url or config.url
    problem = database_url_problem(target)
    if problem is not None:
        raise DatabaseUnavailable(f"cannot use database URL {display_url(target)}: {problem}")
    if not create:
        require_sqlite_file(target)
    try:
        engine = make_engine(config, url=target)
    except (ImportError, NoSuchModuleError) as exc:
        if make_url(target).get_backend_name() == "postgresql":
            raise DatabaseUnavailable(
                f"cannot use database URL {display_url(target)}: the PostgreSQL driver psycopg "
                "is not installed; install sip2d with its extra: pip install 'sip2d[postgres]'"
            ) from None
        raise DatabaseUnavailable(
            f"cannot use database URL {display_url(target)}: {first_line(exc)}"
        ) from None
    except ArgumentError as exc:
        raise DatabaseUnavailable(
            f"cannot use database URL {display_url(target)}: {first_line(exc)}"
        ) from None
    if config.plain_statements:
        route_plain(engine)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names; None for other databases and in-memory ones."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:") or parsed.query.get("uri"):
        return None  # SQLite URI filenames carry their own mode=rwc/ro
    return Path(name).resolve()


def require_sqlite_file(url: str) -> None:
    """DatabaseUnavailable naming the full path when ``url`` is a SQLite file that is absent."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseUnavailable(
            f"database file {path} does not exist (check [database] url; "
            "`sip2d db upgrade` creates a new database)"
        )


def probe(engine: Engine) -> None:
    """Open one connection and run ``SELECT 1``; DatabaseUnavailable if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise DatabaseUnavailable(
            f"cannot reach database {engine.url.render_as_string(hide_password=True)}: "
            f"{first_line(exc)}"
        ) from None


def open_engine(config: DatabaseConfig, *, url: str | None = None, create: bool = False) -> Engine:
    """An engine that has been shown to connect. The caller disposes of it."""
    engine = connect_engine(config, url=url, create=create)
    try:
        probe(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
