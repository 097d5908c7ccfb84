"""Parsing and checking the values staff type or import: barcodes, dates, codes, amounts.

Shared by the CSV importer and the CLI so that ``sip2d patron add`` and ``sip2d import
patrons`` accept and refuse exactly the same things. Each parser takes untrusted text and
returns the value to store, or raises :class:`ValueError` with a short reason that the caller
prefixes with the column or option name ("expires: '2024-13-01' is not a valid date").
Reasons quote the offending value (shortened), so these parsers are never given a PIN or a
password.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from decimal import Decimal, InvalidOperation

# A SIP2 variable field ends at '|' and a frame at CR: neither may appear inside a value that
# will travel in a field, nor may any other control character.
_UNSENDABLE = re.compile(r"[|\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s")
_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"", "0", "false", "no", "n", "f"})


def shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for an error message, shortened so one bad cell cannot flood a log."""
    if len(value) > limit:
        value = value[: limit - 3] + "..."
    return repr(value)


def text(value: str, max_length: int, *, required: bool = False) -> str:
    """Trimmed text that fits the column and can travel in a SIP2 field."""
    value = value.strip()
    if required and not value:
        raise ValueError("empty")
    if len(value) > max_length:
        raise ValueError(f"longer than {max_length} characters")
    if _UNSENDABLE.search(value):
        raise ValueError(f"{shown(value)} contains '|' or a control character")
    return value


def barcode(value: str, max_length: int = 64) -> str:
    """A patron or item barcode: required, no white space inside (kiosks scan them)."""
    value = text(value, max_length, required=True)
    if _SPACE.search(value):
        raise ValueError(f"{shown(value)} contains a space")
    return value


def iso_date(value: str) -> dt.date | None:
    """``YYYY-MM-DD`` or empty (None)."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError(f"{shown(value)} is not a date in YYYY-MM-DD form")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not a valid date") from None


def boolean(value: str) -> bool:
    """true/false, yes/no, y/n, t/f, 1/0 (any case); empty is false."""
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"{shown(value)} is not true or false")


def digits_code(value: str, width: int, default: str) -> str:
    """A fixed-width numeric SIP2 code (language, media type, ...); empty gives ``default``."""
    value = value.strip()
    if not value:
        return default
    if not (len(value) == width and value.isascii() and value.isdigit()):
        raise ValueError(f"{shown(value)} is not {width} digits")
    return value


def code_in_range(value: str, width: int, default: str, low: int, high: int) -> str:
    """As :func:`digits_code`, and between ``low`` and ``high`` (a SIP2 enumeration)."""
    code = digits_code(value, width, default)
    if not low <= int(code) <= high:
        raise ValueError(f"{shown(code)} is not a code from {low:0{width}} to {high:0{width}}")
    return code


def optional_count(value: str) -> int | None:
    """A whole number >= 0, or empty (None)."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise ValueError(f"{shown(value)} is not a whole number")
    return int(value)


def amount_cents(value: str) -> int:
    """A money amount such as ``2.50`` as whole cents; empty is 0. At most two decimals."""
    value = value.strip()
    if not value:
        return 0
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{shown(value)} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount > 1_000_000:
        raise ValueError(f"{shown(value)} is not an amount from 0 to 1000000")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{shown(value)} has more than two decimals")
    return int(cents)


def network(value: str) -> str:
    """A CIDR network (``10.1.0.0/16``, ``2001:db8::/32``) or one address, normalised."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IP network in CIDR form") from None
