"""Core statements compiled once and run straight on the driver's cursor.

Measured on the hot path (issue #7, py-spy): ``Connection.execute`` of a prebuilt Core statement
costs ~50 µs on SQLite, of which the query itself is ~10 µs; the rest is SQLAlchemy's per-call
machinery (execution context, cache-key lookup, parameter construction, the result object).
A kiosk checkout runs about a dozen statements, so that machinery, not SQLite, bounded the
daemon. A :class:`Prepared` statement keeps SQLAlchemy as the author of the SQL (the same Core
expression, compiled by the dialect in use, with the dialect's own type conversions for bound
values and results) but does the per-call work once per dialect: it remembers the SQL string,
the order of its parameters, and the converters, and each call is one ``cursor.execute``.

It runs on the DBAPI connection underneath the caller's ``Connection``, so it takes part in the
caller's transaction exactly like ``conn.execute``. Driver errors are raised as SQLAlchemy's
own exception classes (``IntegrityError``, ``OperationalError``...), so callers handle one
family of errors whichever way a statement ran.

Limits, on purpose: an INSERT gets a model's plain-value column defaults but refuses computed
ones (give those columns explicitly), and an ``IN`` list must be written as ``or_()`` of
comparisons. Statements that need either stay on ``conn.execute``.

Plans are cached per dialect *object*, not per dialect name: two engines of one backend may
differ in what compiling depends on (paramstyle, server version, driver), and a plan made for
one would be wrong SQL on the other.

A statement that builds records declares its record class (``Prepared(stmt, record=X)``) and
is checked when it is made: its result columns must be the record's fields, in order, because
rows are passed to the record positionally. A wrong order fails at import, never as a patron's
name in an item's title field.

For debugging, every statement can go through plain ``conn.execute`` instead, so that engine
echo, statement events and SQLAlchemy's own checks see it: set ``SIP2D_PLAIN_STATEMENTS=1`` in
the environment (the whole process) or ``[database] plain_statements = true`` (that engine,
through :func:`route_plain`). Results and errors are the same either way (CI runs the storage
and circulation tests both ways). Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT,
RELEASE) stays on the driver in both modes: it steers the driver connection's own state, which
``conn.execute`` would first wrap in a transaction of SQLAlchemy's.
"""

from __future__ import annotations

import dataclasses
import os
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, overload

from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

R = TypeVar("R")

_Converter = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # (parameter name, value when the caller gives none, converter) in the SQL's order.
    binds: tuple[tuple[str, Any, _Converter], ...]
    positional: bool
    # Parameters with no value of their own: a call that leaves one out is a bug, not NULL.
    required: frozenset[str]
    results: tuple[_Converter, ...]
    convert_results: bool
    # Run through ``conn.execute`` (the debugging setting) rather than on the driver cursor.
    plain: bool


PLAIN_ENV = "SIP2D_PLAIN_STATEMENTS"
# Dialects of engines configured with ``plain_statements`` (see route_plain).
_plain_dialects: weakref.WeakSet[Dialect] = weakref.WeakSet()
_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


def plain_from_environment() -> bool:
    """Whether ``SIP2D_PLAIN_STATEMENTS`` asks for plain ``conn.execute`` everywhere."""
    return os.environ.get(PLAIN_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def route_plain(engine: Engine) -> None:
    """Run every Prepared statement on ``engine`` through ``conn.execute`` (for debugging)."""
    dialect = engine.dialect
    _plain_dialects.add(dialect)
    for statement in list(Prepared._every):
        statement._forget(dialect)


def _is_transaction_control(statement: Any) -> bool:
    if not isinstance(statement, TextClause):
        return False
    words = statement.text.split(None, 1)
    return bool(words) and words[0].upper() in _TRANSACTION_CONTROL


def _compile(statement: Any, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("a Prepared statement cannot hold an expanding IN list; use or_()")
    names: Sequence[str] = (
        compiled.positiontup if dialect.positional else list(compiled.bind_names.values())
    )
    # Columns an INSERT leaves out but whose model gives a Python-side default: SQLAlchemy
    # computes those per execution, so a plain value is taken here and anything else refused.
    defaults: dict[str, Any] = {}
    for column in getattr(compiled, "insert_prefetch", ()):
        if not column.default.is_scalar:
            raise ValueError(f"give {column.key} explicitly: its default is computed per row")
        defaults[column.key] = column.default.arg
    binds = []
    for name in names:
        param = compiled.binds[name]
        converter = param.type.dialect_impl(dialect).bind_processor(dialect)
        # A bindparam the caller names has no value; a literal in the expression carries it.
        binds.append((name, defaults.get(name, param.value), converter))
    columns = list(getattr(statement, "exported_columns", ()))
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    plain = (dialect in _plain_dialects or plain_from_environment()) and not (
        _is_transaction_control(statement)
    )
    return _Compiled(
        sql=compiled.string,
        binds=tuple(binds),
        required=frozenset(
            name for name in names if compiled.binds[name].required and name not in defaults
        ),
        positional=dialect.positional,
        results=results,
        convert_results=not plain and any(converter is not None for converter in results),
        plain=plain,
    )


def record_fields(record: type) -> tuple[str, ...]:
    """A record class's field names in order: what a statement building it must return."""
    return tuple(field.name for field in dataclasses.fields(record))


class Prepared(Generic[R]):
    """One Core statement, compiled per dialect on first use, executed on the driver cursor.

    ``record``: the frozen dataclass each result row becomes in :meth:`record` and
    :meth:`records`; its fields are checked against the statement's columns here, once.
    """

    __slots__ = ("__weakref__", "_by_dialect", "_last", "record_type", "statement")

    # Every statement made, so a test can check them all and route_plain can reset them.
    _every: ClassVar[weakref.WeakSet[Prepared[Any]]] = weakref.WeakSet()

    @overload
    def __init__(self: Prepared[Any], statement: Executable) -> None: ...
    @overload
    def __init__(self, statement: Executable, *, record: type[R]) -> None: ...
    def __init__(self, statement: Executable, *, record: type[R] | None = None) -> None:
        self.statement = statement
        self.record_type = record
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, _Compiled] = (
            weakref.WeakKeyDictionary()
        )
        # The plan used last, checked by identity before the dictionary: nearly every process
        # has one engine per backend, so this is the hit.
        self._last: tuple[Dialect, _Compiled] | None = None
        if record is not None and self.keys != record_fields(record):
            raise TypeError(
                f"statement columns {self.keys} do not match {record.__name__} fields "
                f"{record_fields(record)}: rows are built positionally"
            )
        Prepared._every.add(self)

    @classmethod
    def every(cls) -> list[Prepared[Any]]:
        """Every Prepared statement alive in this process (module constants live forever)."""
        return list(cls._every)

    def compiled(self, dialect: Dialect) -> _Compiled:
        last = self._last
        if last is not None and last[0] is dialect:
            return last[1]
        found = self._by_dialect.get(dialect)
        if found is None:
            found = self._by_dialect[dialect] = _compile(self.statement, dialect)
        self._last = (dialect, found)
        return found

    def _forget(self, dialect: Dialect) -> None:
        self._by_dialect.pop(dialect, None)
        self._last = None

    @property
    def keys(self) -> tuple[str, ...]:
        """Result column names, in order: the same for every dialect."""
        return tuple(column.key for column in getattr(self.statement, "exported_columns", ()))

    def _execute(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        dialect = conn.dialect
        plan = self.compiled(dialect)
        if not plan.required <= params.keys():
            missing = ", ".join(sorted(plan.required - params.keys()))
            raise ValueError(f"a value is required for bind parameter(s) {missing}")
        if plan.plain:
            # Its CursorResult has the cursor's rowcount, fetchone, fetchall and close.
            return plan, conn.execute(self.statement, dict(params))
        converted = [
            params.get(name, default) if converter is None else converter(params.get(name, default))
            for name, default, converter in plan.binds
        ]
        values: Any = (
            tuple(converted)
            if plan.positional
            else {name: value for (name, _, _), value in zip(plan.binds, converted, strict=True)}
        )
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(plan.sql, values)
        except dialect.loaded_dbapi.Error as exc:
            cursor.close()
            raise DBAPIError.instance(
                plan.sql,
                values,
                exc,
                dialect.loaded_dbapi.Error,
                hide_parameters=conn.engine.hide_parameters,
                dialect=dialect,
            ) from exc
        return plan, cursor

    def _convert(self, plan: _Compiled, row: Sequence[Any]) -> tuple[Any, ...]:
        if not plan.convert_results:
            return tuple(row)
        return tuple(
            value if converter is None or value is None else converter(value)
            for value, converter in zip(row, plan.results, strict=True)
        )

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Execute a statement that returns no rows; the number of rows it changed."""
        _, cursor = self._execute(conn, params or {})
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def first(
        self, conn: Connection, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        """The first result row as a tuple of converted values, or None."""
        plan, cursor = self._execute(conn, params or {})
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else self._convert(plan, row)

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def all(
        self, conn: Connection, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        plan, cursor = self._execute(conn, params or {})
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [self._convert(plan, row) for row in rows]

    def _build(self) -> Callable[..., R]:
        if self.record_type is None:
            raise TypeError("declare the record this statement builds: Prepared(..., record=X)")
        return self.record_type

    def record(self, conn: Connection, params: Mapping[str, Any] | None = None) -> R | None:
        """The first row as the declared record, or None."""
        build = self._build()
        row = self.first(conn, params)
        return None if row is None else build(*row)

    def records(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[R]:
        """Every row as the declared record."""
        build = self._build()
        return [build(*row) for row in self.all(conn, params)]


class Savepoint:
    """A named SAVEPOINT as a context manager, its three statements prepared once.

    ``with savepoint(conn):`` releases the savepoint when the block succeeds and rolls back to
    it (then releases it) when the block raises, so the caller's transaction stays usable after
    a failed step: the loan primitive relies on that after a refused insert, and group commit
    after one failed write among many.
    """

    __slots__ = ("_begin", "_release", "_rollback")

    def __init__(self, name: str) -> None:
        self._begin = Prepared(text(f"SAVEPOINT {name}"))
        self._rollback = Prepared(text(f"ROLLBACK TO SAVEPOINT {name}"))
        self._release = Prepared(text(f"RELEASE SAVEPOINT {name}"))

    @contextmanager
    def __call__(self, conn: Connection) -> Iterator[None]:
        self._begin.run(conn)
        try:
            yield
        except BaseException:
            self._rollback.run(conn)
            self._release.run(conn)
            raise
        self._release.run(conn)
