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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, text
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
    return _Compiled(
        sql=compiled.string,
        binds=tuple(binds),
        required=frozenset(
            name for name in names if compiled.binds[name].required and name not in defaults
        ),
        positional=dialect.positional,
        results=results,
        convert_results=any(converter is not None for converter in results),
    )


class Prepared:
    """One Core statement, compiled per dialect on first use, executed on the driver cursor."""

    __slots__ = ("_by_dialect", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return found

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

    def record(
        self, conn: Connection, build: Callable[..., R], params: Mapping[str, Any] | None = None
    ) -> R | None:
        """The first row passed positionally to ``build`` (a record class), or None."""
        row = self.first(conn, params)
        return None if row is None else build(*row)

    def records(
        self, conn: Connection, build: Callable[..., R], params: Mapping[str, Any] | None = None
    ) -> list[R]:
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
