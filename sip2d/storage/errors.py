"""Typed errors raised by the store.

Callers branch on these instead of on driver exceptions: the daemon turns
:class:`ItemAlreadyOnLoan` into a refused checkout, and the CLI prints any
:class:`StorageError` as one line. Messages are written for an operator and never contain a
PIN, a password or a database password (URLs are rendered with the password hidden).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError


class StorageError(Exception):
    """Base class: something the operator or the caller can act on, stated in one line."""


class DatabaseUnavailable(StorageError):
    """The database could not be reached or opened."""


class SchemaOutOfDate(StorageError):
    """The database schema is not at the revision this version of sip2d needs.

    ``current`` is the revision found (None: no sip2d schema at all), ``head`` the one needed.
    """

    def __init__(self, current: str | None, head: str, *, newer: bool = False) -> None:
        self.current = current
        self.head = head
        self.newer = newer
        if newer:
            message = (
                f"database schema is at revision {current}, which this version of sip2d does not "
                f"know (its newest is {head}); upgrade sip2d"
            )
        elif current is None:
            message = "database has no sip2d schema yet: run `sip2d db upgrade`"
        else:
            message = (
                f"database schema is at revision {current} but this sip2d needs {head}: "
                "run `sip2d db upgrade`"
            )
        super().__init__(message)


class NotFound(StorageError):
    """No row with the given key (a barcode or login)."""


class AlreadyExists(StorageError):
    """A row with the same unique key already exists."""


class ItemAlreadyOnLoan(StorageError):
    """The item has an open loan already; the database's partial unique index said so."""

    def __init__(self, item_id: int) -> None:
        self.item_id = item_id
        super().__init__(f"item {item_id} is already on loan")


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached, rather than that one statement failed.

    Only these may mark the database unavailable (98 off line for every kiosk): a value too long
    for its column (DataError), a broken constraint (IntegrityError) or a bad statement
    (ProgrammingError) concern the one request that caused them, and treating them as an outage
    let a single crafted frame take every kiosk off line. Connection-level means: the driver
    could not connect or lost the connection (OperationalError, InterfaceError, or any error
    SQLAlchemy flagged as a disconnect), the pool had no connection to give (its TimeoutError),
    the store said so itself (:class:`DatabaseUnavailable`), or the operating system failed the
    I/O (OSError).
    """
    if isinstance(exc, (DatabaseUnavailable, OSError)):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    return isinstance(exc, (SATimeoutError, DisconnectionError))


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's text (the driver's own, when wrapped): no
    statement and no bound parameters, which could carry a barcode or a hash into a log."""
    inner = getattr(exc, "orig", None) or exc
    for line in str(inner).splitlines():
        if line.strip():
            return line.strip()
    return type(inner).__name__


def error_text(exc: BaseException) -> str:
    """One line for the log: the exception class and the driver's own first line."""
    return f"{type(exc).__name__}: {first_line(exc)}"
