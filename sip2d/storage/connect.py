"""Opening a database and saying plainly why it cannot be opened.

Driver errors are long, multi-line and sometimes carry the URL with its password. Everything
that opens a database goes through here so an operator sees one line naming the database
(password hidden) and the first line of the driver's complaint, as a
:class:`~sip2d.storage.errors.DatabaseUnavailable`.
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from sip2d.config import DatabaseConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.errors import DatabaseUnavailable
from sip2d.storage.prepared import route_plain


def display_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's text (the driver's own, when wrapped)."""
    inner = getattr(exc, "orig", None) or exc
    for line in str(inner).splitlines():
        if line.strip():
            return line.strip()
    return type(inner).__name__


def connect_engine(config: DatabaseConfig, *, url: str | None = None) -> Engine:
    """:func:`make_engine` that reports a bad URL or missing driver as DatabaseUnavailable."""
    target = url or config.url
    try:
        engine = make_engine(config, url=target)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(
            f"cannot use database URL {display_url(target)}: {first_line(exc)}"
        ) from None
    if config.plain_statements:
        route_plain(engine)
    return engine


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


def open_engine(config: DatabaseConfig, *, url: str | None = None) -> Engine:
    """An engine that has been shown to connect. The caller disposes of it."""
    engine = connect_engine(config, url=url)
    try:
        probe(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
