"""The current time in UTC as SQL, on both engines.

The schema stores naive UTC timestamps (see :mod:`sip2d.storage.models`). SQLite's
``CURRENT_TIMESTAMP`` is already UTC, but PostgreSQL's is in the session's time zone and,
cast to ``timestamp without time zone``, would store local wall-clock time on any server not
set to UTC. ``utcnow()`` renders the right expression for each dialect, for column defaults
and for ``updated_at = utcnow()`` in upserts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import DateTime


def stored_now() -> datetime:
    """The current time as the store keeps it, from Python: naive UTC, whole seconds (see
    :mod:`sip2d.storage.models`). ``utcnow`` below is the same moment taken by the database."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class utcnow(FunctionElement[Any]):
    """CURRENT_TIMESTAMP in UTC; lower-case because it reads as the SQL function it is."""

    type = DateTime()
    inherit_cache = True


@compiles(utcnow)
def _utcnow_default(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(utcnow, "postgresql")
def _utcnow_postgresql(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "(now() AT TIME ZONE 'utc')"
