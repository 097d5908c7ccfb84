"""Layout tables compiled into fast per-message decoders and encoders.

The tables in :mod:`.messages` are the single source of truth; this module turns each one, once at
import time, into a :class:`Plan`. Decoding and encoding sit on the server's hot path (every
keep-alive, every checkout) and the project's goal is at least 1.5x the throughput of pysip2's
codec, so the plans are shaped by measurement (``benchmarks/codec.py``), not by elegance:

- The fixed part and the whole encoder are generated Python source (``exec``, the technique
  ``dataclasses`` itself uses): a straight line of slices and formatter calls per message, with no
  per-field loop, tuple unpacking or branching on the field kind. That removed about a third of
  the encode time against a table-walking loop. The generated source is kept in
  ``Plan.source`` for reading and debugging.
- Variable fields are decoded by one ``split("|")`` and one dict lookup per piece.
- Instances are built by writing the slots through their descriptors, skipping the frozen
  dataclass ``__init__``, which routes every field through ``object.__setattr__`` and costs twice
  as much. Every field is always written (defaults come from a per-message template), so the
  result is exactly what ``__init__`` would have produced.
- Output values are checked in bulk: after the frame text is built, one pass over it tells whether
  any free-text value contained ``|``, CR, LF or NUL, was too long, or needs ASCII
  transliteration. Only then is the message rebuilt with per-value sanitising.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from sip2d.protocol import charset
from sip2d.protocol.charset import MAX_VALUE_BYTES
from sip2d.protocol.errors import MalformedMessage
from sip2d.protocol.layout import (
    CODE,
    DIGITS,
    FLAG_OK,
    FLAG_YN,
    FLAG_YNU,
    LENIENT,
    REQUIRED,
    Layout,
)
from sip2d.protocol.messages import Message

_FORBIDDEN_IN_FRAME = re.compile("[\r\n\x00]")
# Most extra bytes a fixed part may carry and still be read (Koha's 17 carries 3).
MAX_EXTRA_FIXED = 32


class ExtraFixedBytes(Exception):
    """Internal: the fixed part is ``count`` bytes longer than the table; decode without them."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


def is_field_code(code: str) -> bool:
    """Two upper-case ASCII letters, the shape of every SIP2 field identifier."""
    return len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


def _is_known_code(rest: str, text_fields: dict[str, int], parsed_fields: dict[str, Any]) -> bool:
    head = rest[:2]
    return head in text_fields or head in parsed_fields


def _slot_setter(cls: type, name: str) -> Callable[[object, object], None]:
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None:
            setter: Callable[[object, object], None] = descriptor.__set__
            return setter
    raise AssertionError(f"{cls.__name__} has no slot {name}")


class Plan:
    """One message class's layout, compiled."""

    def __init__(self, cls: type[Message]) -> None:
        layout: Layout = cls.LAYOUT
        self.cls = cls
        self.message_id = cls.MESSAGE_ID
        self.layout = layout
        self.has_variable = bool(layout.variable)
        self.fixed_end = 2 + layout.fixed_width
        self.fixed_count = len(layout.fixed)

        names = {field.name for field in dataclasses.fields(cls)}
        expected = {f.attr for f in layout.fixed} | {v.attr for v in layout.variable} | {"extra"}
        assert names == expected, f"{cls.__name__}: fields and LAYOUT disagree"
        # Variable fields are collected in a list (their order in the layout, then "extra")
        # and written to the instance at the end; fixed fields are written as they are parsed.
        var_names = [var.attr for var in layout.variable] + ["extra"]
        template: list[object] = []
        for var in layout.variable:
            if var.repeatable:
                template.append(())
            elif var.need is LENIENT:
                template.append(var.kind.empty)
            else:
                template.append(None)
        template.append(())
        self._template = template
        self._extra_index = len(template) - 1
        # code -> position in the list, split by what the decoder must do with the value, so the
        # common case (free text) costs one dict lookup and no unpacking.
        self._text_fields: dict[str, int] = {}
        self._parsed_fields: dict[str, tuple[int, Callable[[str], Any]]] = {}
        self._repeated_fields: dict[str, int] = {}
        for number, var in enumerate(layout.variable):
            if var.repeatable:
                self._repeated_fields[var.code] = number
            elif var.kind.text:
                self._text_fields[var.code] = number
            else:
                self._parsed_fields[var.code] = (number, var.kind.parse)
        self._codes = frozenset(var.code for var in layout.variable)
        self._required = tuple(
            (var.code, number) for number, var in enumerate(layout.variable) if var.need is REQUIRED
        )
        # The decoder detects a missing required field by its template value None, which only
        # works because required fields are free text (a parsed kind could yield None).
        if any(var.need is REQUIRED and not var.kind.text for var in layout.variable):
            raise AssertionError(f"{cls.__name__}: a REQUIRED field must be free text")

        namespace: dict[str, Any] = {
            "fit_fixed": charset.fit_fixed,
            # Y/N/U as dict lookups: a C call instead of a Python function per flag.
            "YNU_IN": {"Y": True, "y": True, "N": False, "n": False},
            "YNU_OUT": {True: "Y", False: "N"},
        }
        decode_source = self._decode_source(var_names, namespace)
        fast_source = self._encode_source("build_fast", namespace, fit=False)
        fit_source = self._encode_source("build_fit", namespace, fit=True)
        self.source = "\n".join((decode_source, fast_source, fit_source))
        exec(compile(self.source, f"<sip2d plan {self.message_id}>", "exec"), namespace)
        self.decode: Callable[[str], Message] = namespace["decode"]
        self._build_fast: Callable[[Message], list[str]] = namespace["build_fast"]
        self._build_fit: Callable[[Message, Callable[[str], str]], list[str]] = namespace[
            "build_fit"
        ]

    # -- code generation --

    def _decode_source(self, var_names: list[str], namespace: dict[str, Any]) -> str:
        """``decode(text) -> Message``: lenient decode of the frame text, trailer removed."""
        namespace.update(
            new=object.__new__,
            cls=self.cls,
            too_short=self._too_short,
            fixed_error=self._fixed_error,
            missing=self._missing,
            decode_variable=self._decode_variable,
            template=self._template,
        )
        namespace.update(extra_fixed=ExtraFixedBytes, misaligned=self._misaligned)
        lines = [
            "def decode(text):",
            f"    if len(text) < {self.fixed_end}:",
            "        raise too_short(len(text))",
        ]
        if self.layout.exact:
            # A "|" can only be in the fixed part when a field has slid into it.
            lines += [
                f"    if '|' in text[2:{self.fixed_end}]:",
                "        raise misaligned()",
            ]
        lines += [
            "    m = new(cls)",
            "    try:",
        ]
        start = 2
        for number, field in enumerate(self.layout.fixed):
            piece = f"text[{start}:{start + field.width}]"
            if field.kind is FLAG_OK:
                expression = f"{piece} == '1'"
            elif field.kind is FLAG_YN:
                expression = f"{piece} in ('Y', 'y')"
            elif field.kind is FLAG_YNU:
                expression = f"YNU_IN.get({piece})"
            elif field.kind is CODE or field.kind is DIGITS:
                expression = piece
            else:
                namespace[f"parse_{number}"] = field.kind.parse
                expression = f"parse_{number}({piece})"
            namespace[f"set_{number}"] = _slot_setter(self.cls, field.attr)
            lines.append(f"        set_{number}(m, {expression})")
            start += field.width
        if not self.layout.fixed:
            lines.append("        pass")
        lines += [
            "    except ValueError:",
            "        raise fixed_error(text) from None",
            f"    rest = text[{self.fixed_end}:]",
            "    values = template.copy()",
            "    if rest:",
            "        try:",
            "            decode_variable(rest, values)",
            "        except extra_fixed as extra:",
            "            return decode(text[:2] + text[2 + extra.count :])",
        ]
        if self._required:
            lines += ["    else:", f"        raise missing({self._required[0][0]!r}, len(text))"]
        for number, name in enumerate(var_names):
            namespace[f"var_set_{number}"] = _slot_setter(self.cls, name)
            lines.append(f"    var_set_{number}(m, values[{number}])")
        lines.append("    return m")
        return "\n".join(lines) + "\n"

    def _encode_source(self, name: str, namespace: dict[str, Any], *, fit: bool) -> str:
        lines = [f"def {name}(m{', fit' if fit else ''}):"]
        items = [repr(self.message_id)]
        for number, field in enumerate(self.layout.fixed):
            value = f"m.{field.attr}"
            if field.kind is FLAG_OK:
                items.append(f"('1' if {value} else '0')")
            elif field.kind is FLAG_YN:
                items.append(f"('Y' if {value} else 'N')")
            elif field.kind is FLAG_YNU:
                items.append(f"YNU_OUT.get({value}, 'U')")
            elif field.kind is CODE or field.kind is DIGITS:
                # Caller-supplied codes may have the wrong width or characters.
                width = field.width
                lines.append(f"    f{number} = {value}")
                lines.append(
                    f"    if len(f{number}) != {width} or '|' in f{number} or not "
                    f"(f{number}.isascii() and f{number}.isprintable()):"
                )
                lines.append(f"        f{number} = fit_fixed(f{number}, {width})")
                items.append(f"f{number}")
            else:
                namespace[f"format_{number}"] = field.kind.format
                items.append(f"format_{number}({value})")
        lines.append(f"    parts = [{', '.join(items)}]")
        lines.append("    append = parts.append")
        text = "fit(v)" if fit else "v"
        for number, var in enumerate(self.layout.variable):
            code = var.code
            if var.repeatable:
                lines.append(f"    for v in m.{var.attr}:")
                lines.append(f"        append(f'{code}{{{text}}}|')")
                continue
            lines.append(f"    v = m.{var.attr}")
            lines.append("    if v is not None:")
            if var.kind.text:
                lines.append(f"        append(f'{code}{{{text}}}|')")
            elif var.kind is FLAG_YN:
                lines.append(f"        append('{code}Y|' if v else '{code}N|')")
            else:
                namespace[f"var_format_{number}"] = var.kind.format
                lines.append(f"        append(f'{code}{{var_format_{number}(v)}}|')")
        lines.append("    for c, v in m.extra:")
        if fit:
            lines.append("        append(f'{fit(c)}{fit(v)}|')")
        else:
            lines.append("        append(f'{c}{v}|')")
        lines.append("    return parts")
        return "\n".join(lines) + "\n"

    # -- decoding --

    def _decode_variable(self, rest: str, values: list[object]) -> None:
        text_fields = self._text_fields
        parsed_fields = self._parsed_fields
        repeated_fields = self._repeated_fields
        head = rest[:2]
        if self.has_variable and head not in text_fields and head not in parsed_fields:
            head = rest.lstrip("|")[:2]
            if not (len(head) == 2 and head.isascii() and head.isalpha() and head.isupper()):
                surplus = None if self.layout.exact else self._extra_fixed_bytes(rest)
                if surplus is not None:
                    raise ExtraFixedBytes(surplus)
                # The fixed part was shorter than the layout says, or longer in a message that
                # moves money: every field after it would be garbage, so refuse, not guess.
                raise self._misaligned()
        lists: dict[int, list[str]] = {}
        extra: list[tuple[str, str]] = []
        piece = ""
        try:
            # Backwards, so that for a repeated non-repeatable field the FIRST occurrence is
            # the one left standing (P25) without keeping a "seen" set.
            for piece in reversed(rest.split("|")):
                code = piece[:2]
                position = text_fields.get(code)
                if position is not None:
                    values[position] = piece[2:]
                    continue
                position = repeated_fields.get(code)
                if position is not None:
                    if position in lists:
                        lists[position].append(piece[2:])
                    else:
                        lists[position] = [piece[2:]]
                    continue
                parsed = parsed_fields.get(code)
                if parsed is not None:
                    values[parsed[0]] = parsed[1](piece[2:])
                elif piece:  # "" comes from "||" or the final "|": nothing to keep
                    extra.append((code, piece[2:]))
        except ValueError as exc:
            raise MalformedMessage(
                str(exc),
                message_id=self.message_id,
                field=piece[:2],
                position=self.fixed_end + rest.rindex(piece),
            ) from None
        # Required fields are text: their template value None means "never seen".
        for code, position in self._required:
            if values[position] is None:
                raise self._missing(code, self.fixed_end + len(rest))
        for position, items in lists.items():
            items.reverse()
            values[position] = tuple(items)
        if extra:
            extra.reverse()
            values[self._extra_index] = tuple(extra)

    def _extra_fixed_bytes(self, rest: str) -> int | None:
        """How many bytes too long the fixed part is, when ``rest`` says so unambiguously.

        That is when one of this message's own field codes starts within the first
        ``MAX_EXTRA_FIXED`` characters of ``rest`` and no ``|`` comes before it: the bytes in
        between are then fixed-part bytes the table does not know. A ``|`` first means the cut
        landed inside the fields (a fixed part too short), which is never guessed at.
        """
        codes = self._codes
        for start in range(1, min(len(rest) - 1, MAX_EXTRA_FIXED + 1)):
            char = rest[start - 1]
            if char == "|" or not char.isprintable():
                return None
            if rest[start : start + 2] in codes:
                return start
        return None

    def _misaligned(self) -> MalformedMessage:
        return MalformedMessage(
            "fixed part has the wrong length (no field code where one must start)",
            message_id=self.message_id,
            position=self.fixed_end,
        )

    def _fixed_error(self, text: str) -> MalformedMessage:
        start = 2
        for field in self.layout.fixed:
            try:
                field.kind.parse(text[start : start + field.width])
            except ValueError as exc:
                return MalformedMessage(
                    str(exc), message_id=self.message_id, field=field.attr, position=start
                )
            start += field.width
        raise AssertionError("a fixed field failed to parse, then parsed")  # pragma: no cover

    def _missing(self, code: str, position: int) -> MalformedMessage:
        return MalformedMessage(
            "required field missing", message_id=self.message_id, field=code, position=position
        )

    def _too_short(self, length: int) -> MalformedMessage:
        position = 2
        name = None
        for field in self.layout.fixed:
            if position + field.width > length:
                name = field.attr
                break
            position += field.width
        return MalformedMessage(
            f"frame too short: the fixed part needs {self.fixed_end - 2} characters",
            message_id=self.message_id,
            field=name,
            position=length,
        )

    # -- encoding --

    def encode(self, message: Message, encoding: str, single_byte: bool, ascii_only: bool) -> str:
        """Frame text (no trailer, no terminator), values made safe for the wire."""
        parts = self._build_fast(message)
        text = "".join(parts)
        tail = text[self.fixed_end :]
        if not tail:
            return text
        plain = tail.isascii()
        # Any value up to 63 characters fits in 255 bytes even at 4 bytes per character.
        limit = MAX_VALUE_BYTES if single_byte or plain else MAX_VALUE_BYTES // 4
        if (
            # one "|" per field: more means a value carried one
            tail.count("|") == len(parts) - 1 - self.fixed_count
            and _FORBIDDEN_IN_FRAME.search(tail) is None
            and (plain or not ascii_only)
            and max(map(len, tail.split("|"))) <= limit + 2  # + the field code
        ):
            return text

        def fit(value: str) -> str:
            return charset.fit_value(value, encoding, single_byte, ascii_only)

        return "".join(self._build_fit(message, fit))
