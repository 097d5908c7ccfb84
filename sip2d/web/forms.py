"""Reading the page's forms: bounded bodies, known fields, bounded values.

Pure functions over bytes and strings, so every untrusted input is tested by hypothesis
without a server. A value that is too long or not text is kept only as far as needed to say
so; nothing here logs or echoes a field (PIN fields are never put back into a page).
"""

from __future__ import annotations

import dataclasses
from typing import Final
from urllib.parse import parse_qs

MAX_BODY: Final = 8 * 1024
MAX_FIELDS: Final = 16
MAX_CARD: Final = 64
MAX_SECRET: Final = 64
MAX_CODE: Final = 32


class BodyTooLarge(Exception):
    """The request body is larger than any of the page's forms can be."""


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as {field: first value}.

    Undecodable bytes become U+FFFD (which no card, PIN or code contains, so such a value is
    refused downstream like any other wrong one); more than ``MAX_FIELDS`` fields are ignored.
    """
    if len(body) > MAX_BODY:
        raise BodyTooLarge
    text = body.decode("utf-8", "replace")
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:  # more fields than max_num_fields
        parsed = parse_qs("&".join(text.split("&")[:MAX_FIELDS]), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items() if values}


@dataclasses.dataclass(frozen=True)
class Field:
    value: str
    too_long: bool = False


def read(form: dict[str, str], name: str, limit: int, *, strip: bool = True) -> Field:
    """One field, trimmed when ``strip`` (cards, codes; never PINs, whose blanks count)."""
    value = form.get(name, "")
    if strip:
        value = value.strip()
    if len(value) > limit:
        return Field(value[:limit], too_long=True)
    return Field(value)


def card_shape_ok(card: str) -> bool:
    """A card number as a kiosk would scan it: printable, no blanks, no '|'."""
    return bool(card) and card.isprintable() and not any(c.isspace() or c == "|" for c in card)
