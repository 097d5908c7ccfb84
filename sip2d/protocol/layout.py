"""The grammar of SIP2 messages as data: field kinds and field descriptors.

Each message class in :mod:`sip2d.protocol.messages` declares a :class:`Layout`: its fixed fields
(attribute, width, kind) and its variable fields (two-letter code, attribute, kind, requirement,
repeatable), in spec order. One generic decoder/encoder in :mod:`sip2d.protocol.codec` works from
these tables, so a field's wire rules live in exactly one place (the h11 ``_abnf.py`` habit).

A :class:`Kind` bundles three functions over a field's text:
- ``parse``: lenient, text -> typed value. It raises ``ValueError`` only when the text cannot be
  represented at all (a count such as ``12a4``); everything merely odd is accepted (reference 10).
- ``format``: typed value -> canonical text.
- ``check``: text -> the reason it is not canonical, or ``None``. Used only by strict decoding.

Requirements (reference section 7, "R", "R*", "O"):
- ``REQUIRED``: decoding fails without it (e.g. AA patron identifier in 23).
- ``LENIENT``: required by the spec but routinely missing or empty in practice (AO, AC, AD, AE...);
  when absent it decodes to the kind's empty value and strict mode reports it.
- ``OPTIONAL``: ``None`` (or ``()`` when repeatable) when absent.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from sip2d.protocol import values


class Need(enum.Enum):
    REQUIRED = "R"
    LENIENT = "R*"
    OPTIONAL = "O"


REQUIRED = Need.REQUIRED
LENIENT = Need.LENIENT
OPTIONAL = Need.OPTIONAL


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """How one kind of field value is read, written and judged."""

    name: str
    parse: Callable[[str], Any]
    format: Callable[[Any], str]
    check: Callable[[str], str | None]
    # Value of a LENIENT field that is missing from the frame.
    empty: Any = ""
    # Whether values are free text that must be sanitised and cut to 255 bytes on output.
    text: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Fixed:
    """A fixed-length field: no identifier, cut by position."""

    attr: str
    width: int
    kind: Kind


@dataclasses.dataclass(frozen=True, slots=True)
class Var:
    """A variable-length field: ``<code><value>|``."""

    code: str
    attr: str
    kind: Kind
    need: Need = OPTIONAL
    repeatable: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    fixed: tuple[Fixed, ...] = ()
    variable: tuple[Var, ...] = ()
    # A fixed part that is longer than the table says is normally read by dropping the extra
    # bytes in front of it (Koha's test client sends a 17 with a language before the date).
    # ``exact`` messages move money: for them a misaligned fixed part is refused, never guessed.
    exact: bool = False

    @property
    def fixed_width(self) -> int:
        return sum(field.width for field in self.fixed)


# --- kinds -----------------------------------------------------------------------------------


def _identity(text: str) -> str:
    return text


def _no_check(text: str) -> None:
    return None


def _check_yn(text: str) -> str | None:
    return None if text in ("Y", "N") else "flag must be Y or N"


def _check_ok(text: str) -> str | None:
    return None if text in ("0", "1") else "flag must be 0 or 1"


def _check_ynu(text: str) -> str | None:
    return None if text in ("Y", "N", "U") else "flag must be Y, N or U"


def _check_y_space(text: str) -> str | None:
    return None if all(c in "Y " for c in text) else "positions must be Y or space"


def _check_digits(text: str) -> str | None:
    return None if text.isdigit() and text.isascii() else "must be digits"


def _parse_count(text: str) -> int | None:
    stripped = text.strip()
    if not stripped:
        return None
    if not (stripped.isdigit() and stripped.isascii()):
        raise ValueError("count must be digits or blank")
    return int(stripped)


def _format_count(value: int | None) -> str:
    if value is None:
        return "    "
    return f"{min(max(value, 0), 9999):04d}"


def _check_count(text: str) -> str | None:
    if text == "    ":
        return None
    if len(text) != 4 or not (text.isdigit() and text.isascii()):
        return "count must be 4 digits or 4 spaces"
    return None


def _parse_number3(text: str) -> int:
    stripped = text.strip()
    # 999 is the protocol's own "unknown"; anything unreadable is treated the same way.
    return int(stripped) if stripped.isdigit() and stripped.isascii() else 999


def _format_number3(value: int) -> str:
    return f"{min(max(value, 0), 999):03d}"


def _check_number3(text: str) -> str | None:
    return None if len(text) == 3 and text.isdigit() and text.isascii() else "must be 3 digits"


def _parse_number(text: str) -> int | None:
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() and stripped.isascii() else None


def _format_number(value: int) -> str:
    return str(max(value, 0))


def _check_date_blank_ok(text: str) -> str | None:
    return values.check_date(text, blank_ok=True)


def _check_date_required(text: str) -> str | None:
    return values.check_date(text, blank_ok=False)


def _parse_patron_status(text: str) -> values.PatronStatus:
    return values.PatronStatus.from_wire(text)


def _parse_summary(text: str) -> values.Summary:
    return values.Summary.from_wire(text)


def _parse_supported(text: str) -> values.SupportedMessages:
    return values.SupportedMessages.from_wire(text)


def _check_supported(text: str) -> str | None:
    if len(text) != values.SupportedMessages.WIDTH:
        return f"BX must be {values.SupportedMessages.WIDTH} Y/N flags, got {len(text)}"
    return None if all(c in "YN" for c in text) else "BX positions must be Y or N"


def _check_summary(text: str) -> str | None:
    problem = _check_y_space(text)
    if problem is None and text.count("Y") > 1:
        return "more than one summary category selected"
    return problem


TEXT = Kind("text", _identity, _identity, _no_check, text=True)
# A code of fixed width (language, circulation status, currency...): kept as text.
CODE = Kind("code", _identity, _identity, _no_check)
DIGITS = Kind("digits", _identity, _identity, _check_digits)
FLAG_YN = Kind("Y/N", values.parse_yn, values.format_yn, _check_yn, empty=False)
FLAG_OK = Kind("0/1", values.parse_ok, values.format_ok, _check_ok, empty=False)
FLAG_YNU = Kind("Y/N/U", values.parse_ynu, values.format_ynu, _check_ynu, empty=None)
DATE = Kind("date", values.parse_date, values.format_date, _check_date_required, empty=None)
# nb due date / return date: 18 spaces is the normal value (reference 4.1, P20).
DATE_BLANK_OK = Kind(
    "date", values.parse_date, values.format_date, _check_date_blank_ok, empty=None
)
COUNT = Kind("count", _parse_count, _format_count, _check_count, empty=None)
NUMBER3 = Kind("3 digits", _parse_number3, _format_number3, _check_number3, empty=999)
NUMBER = Kind("number", _parse_number, _format_number, _check_digits, empty=None)
PATRON_STATUS = Kind(
    "patron status", _parse_patron_status, str, _check_y_space, empty=values.PatronStatus()
)
SUMMARY = Kind("summary", _parse_summary, str, _check_summary, empty=values.Summary())
SUPPORTED = Kind(
    "supported messages",
    _parse_supported,
    str,
    _check_supported,
    empty=values.SupportedMessages(),
)

# --- fields shared by many messages ------------------------------------------------------------

TRANSACTION_DATE = Fixed("transaction_date", 18, DATE)
LANGUAGE = Fixed("language", 3, DIGITS)
PATRON_STATUS_FIELD = Fixed("patron_status", 14, PATRON_STATUS)
OK = Fixed("ok", 1, FLAG_OK)

INSTITUTION_ID = Var("AO", "institution_id", TEXT, LENIENT)
PATRON_IDENTIFIER = Var("AA", "patron_identifier", TEXT, REQUIRED)
ITEM_IDENTIFIER = Var("AB", "item_identifier", TEXT, REQUIRED)
TERMINAL_PASSWORD = Var("AC", "terminal_password", TEXT, LENIENT)
TERMINAL_PASSWORD_OPT = Var("AC", "terminal_password", TEXT)
PATRON_PASSWORD = Var("AD", "patron_password", TEXT, LENIENT)
PATRON_PASSWORD_OPT = Var("AD", "patron_password", TEXT)
PERSONAL_NAME = Var("AE", "personal_name", TEXT, LENIENT)
SCREEN_MESSAGE = Var("AF", "screen_message", TEXT, repeatable=True)
PRINT_LINE = Var("AG", "print_line", TEXT, repeatable=True)
DUE_DATE = Var("AH", "due_date", TEXT)
TITLE_IDENTIFIER = Var("AJ", "title_identifier", TEXT)
VALID_PATRON = Var("BL", "valid_patron", FLAG_YN)
VALID_PATRON_PASSWORD = Var("CQ", "valid_patron_password", FLAG_YN)
CURRENCY_TYPE = Var("BH", "currency_type", TEXT)
FEE_AMOUNT = Var("BV", "fee_amount", TEXT)
FEE_ACKNOWLEDGED = Var("BO", "fee_acknowledged", FLAG_YN)
CANCEL = Var("BI", "cancel", FLAG_YN)
ITEM_PROPERTIES = Var("CH", "item_properties", TEXT)
MEDIA_TYPE = Var("CK", "media_type", TEXT)
TRANSACTION_ID = Var("BK", "transaction_id", TEXT)
FEE_TYPE = Var("BT", "fee_type", TEXT)
SECURITY_INHIBIT = Var("CI", "security_inhibit", FLAG_YN)
PERMANENT_LOCATION = Var("AQ", "permanent_location", TEXT)
CURRENT_LOCATION = Var("AP", "current_location", TEXT)
CALL_NUMBER = Var("CS", "call_number", TEXT)
DESTINATION_LOCATION = Var("CT", "destination_location", TEXT)
