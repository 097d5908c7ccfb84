"""Typed TOML tables: a dataclass per table in, every problem of a document out.

One loader reads both the daemon configuration (:mod:`sip2d.config`) and the conformance
profiles (:mod:`conformance.profile`), so both check the same way and say so the same way. The
schema is the dataclasses themselves: a field's type says what TOML value it takes, its default
makes it optional (no default: required), and ``typing.Annotated`` metadata adds the rules a
type cannot express (:class:`Range`, :class:`Rule`, :class:`Hidden`, :class:`NumberAsText`).
A section class may also define ``problems(self)`` yielding ``(key, message)`` pairs for rules
that span several of its keys. A new section is therefore one dataclass and nothing else.

Loading never stops at the first mistake: every unknown key, wrong type and out-of-range value
of a document is collected as a :class:`Problem` with its dotted key path, so an operator fixes
a file in one go instead of one restart per typo. The same metadata feeds the generated
configuration reference, so the documented ranges are the enforced ones.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal


@dataclasses.dataclass(frozen=True)
class Problem:
    """One mistake in a document: where (a dotted key path, "" for the whole) and what."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class SchemaError(Exception):
    """A document that does not fit its schema; ``problems`` lists every mistake found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclasses.dataclass(frozen=True)
class Range:
    """A number between ``low`` and ``high`` (inclusive; None = unbounded)."""

    low: float | None = None
    high: float | None = None

    def problem(self, value: Any) -> str | None:
        low, high = self.low, self.high
        if (low is None or value >= low) and (high is None or value <= high):
            return None
        return f"must be {self.describe()}, got {value!r}"

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}..{self.high:g}"
        if self.low is not None:
            return f"at least {self.low:g}"
        return f"at most {self.high:g}"


@dataclasses.dataclass(frozen=True)
class Rule:
    """A check of one value: ``check`` returns the problem as text, or None when it is fine."""

    check: Callable[[Any], str | None]
    description: str

    def problem(self, value: Any) -> str | None:
        return self.check(value)

    def describe(self) -> str:
        return self.description


@dataclasses.dataclass(frozen=True)
class Hidden:
    """The value is a secret: no message ever repeats it."""


@dataclasses.dataclass(frozen=True)
class NumberAsText:
    """A text field that also takes a bare whole number (barcodes written as ``123``)."""


Constraint = Range | Rule


def constraints(hint: Any) -> tuple[Any, list[Any]]:
    """Split ``Annotated[T, ...]`` into ``T`` and its metadata (``hint`` and [] otherwise)."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        return base, list(meta)
    return hint, []


def load(cls: type[Any], raw: Any, where: str = "") -> Any:
    """An instance of the dataclass ``cls`` from the TOML value ``raw``; SchemaError if not."""
    problems: list[Problem] = []
    value = _build(cls, raw, where, problems)
    if problems:
        raise SchemaError(problems)
    return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _build(cls: type[Any], raw: Any, where: str, problems: list[Problem]) -> Any:
    if not isinstance(raw, dict):
        problems.append(Problem(where, "expected a table"))
        return None
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in sorted(set(raw) - set(fields)):
        problems.append(Problem(_join(where, key), "unknown key"))
    before = len(problems)
    values: dict[str, Any] = {}
    for name, field in fields.items():
        path = _join(where, name)
        if name not in raw:
            required = (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            )
            if required:
                problems.append(Problem(path, "missing (required)"))
            continue
        converted = _convert(hints[name], raw[name], path, problems)
        if converted is not _INVALID:
            values[name] = converted
    if len(problems) > before:
        return None
    instance = cls(**values)
    check = getattr(instance, "problems", None)
    if callable(check):
        for key, message in check():
            problems.append(Problem(_join(where, key), message))
    return instance


_INVALID = object()


def _convert(hint: Any, value: Any, where: str, problems: list[Problem]) -> Any:
    """``value`` converted to ``hint``, or _INVALID after recording why not."""
    base, meta = constraints(hint)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(base) if a is not type(None)]
        if len(options) != 1:  # pragma: no cover - a schema mistake, not a user one
            raise TypeError(f"{where}: only `X | None` unions are supported")
        base, more = constraints(options[0])
        meta = meta + more
    hidden = any(isinstance(m, Hidden) for m in meta)
    shown = "" if hidden else f", got {value!r}"
    origin = typing.get_origin(base)
    if dataclasses.is_dataclass(base):
        before = len(problems)
        built = _build(typing.cast(type[Any], base), value, where, problems)
        return _INVALID if len(problems) > before else built
    if origin is list:
        (item,) = typing.get_args(base)
        if not isinstance(value, list):
            problems.append(Problem(where, "expected a list"))
            return _INVALID
        before = len(problems)
        items = [_convert(item, v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        if len(problems) > before:
            return _INVALID
        return _checked(items, meta, where, problems, hidden)
    problem = _scalar_problem(base, value, meta, shown)
    if problem is not None:
        problems.append(Problem(where, problem))
        return _INVALID
    if base is float:
        value = float(value)
    elif base is str and not isinstance(value, str):
        value = str(value)
    return _checked(value, meta, where, problems, hidden)


def _checked(value: Any, meta: list[Any], where: str, problems: list[Problem], hidden: bool) -> Any:
    """``value`` if it passes every Range and Rule in ``meta``, else _INVALID (recorded)."""
    for rule in meta:
        if isinstance(rule, Range | Rule):
            message = rule.problem(value)
            if message is not None:
                if hidden and isinstance(rule, Range):
                    message = f"must be {rule.describe()}"
                problems.append(Problem(where, message))
                return _INVALID
    return value


def _scalar_problem(base: Any, value: Any, meta: list[Any], shown: str) -> str | None:
    if typing.get_origin(base) is Literal:
        allowed = typing.get_args(base)
        if value in allowed:
            return None
        return f"must be one of {', '.join(repr(a) for a in allowed)}{shown}"
    if base is bool:
        return None if isinstance(value, bool) else f"expected true or false{shown}"
    if base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"expected a whole number{shown}"
    if base is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return None
        return f"expected a number{shown}"
    if base is str:
        if isinstance(value, str):
            return None
        as_text = any(isinstance(m, NumberAsText) for m in meta)
        if as_text and isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"expected a string{shown}"
    raise TypeError(f"unsupported setting type {base!r}")  # pragma: no cover


def describe_type(hint: Any) -> str:
    """What a field takes, in words, for the generated reference."""
    base, meta = constraints(hint)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        (option,) = [a for a in typing.get_args(base) if a is not type(None)]
        base, more = constraints(option)
        meta = meta + more
    origin = typing.get_origin(base)
    if origin is Literal:
        text = "one of " + ", ".join(f'"{a}"' for a in typing.get_args(base))
    elif origin is list:
        (item,) = typing.get_args(base)
        text = f"list of {describe_type(item)}"
    elif dataclasses.is_dataclass(base):
        text = "table"
    else:
        text = {bool: "true/false", int: "whole number", float: "number", str: "text"}.get(
            base, str(base)
        )
    rules = [m.describe() for m in meta if isinstance(m, Range | Rule)]
    return "; ".join([text, *rules])


def walk(cls: type[Any]) -> Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    """Every field of ``cls`` with its resolved hint (for the reference generator)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        yield field.name, field, hints[field.name]
