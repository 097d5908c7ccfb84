"""Typed errors raised by the store.

Callers branch on these instead of on driver exceptions: the daemon turns
:class:`ItemAlreadyOnLoan` into a refused checkout, and the CLI prints any
:class:`StorageError` as one line. Messages are written for an operator and never contain a
PIN, a password or a database password (URLs are rendered with the password hidden).
"""

from __future__ import annotations


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
