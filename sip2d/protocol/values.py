"""Typed values carried inside SIP2 fields: dates, flags and the three bitmap strings.

Why these exist: the wire uses four different one-character flag conventions (Y/N, 0/1, Y/N/U,
Y/space) and three positional bitmaps whose positions are easy to get wrong (reference 4.2, 5.1-5.3,
pitfalls P11-P13). Turning them into named booleans at the edge means the daemon never indexes a
string and never mixes the conventions up.

Design choices:
- Every parser here is *lenient* (it never raises on odd input, pitfalls P20/P21): anything that
  is not ``Y``/``y`` is false, blank or zero dates are ``None``, unknown zone characters mean local
  time. Strictness lives separately in the ``check_*`` functions (and the kinds of
  :mod:`.layout`), which only *report* what is not canonical, for ``strict=True``.
- Every formatter produces the canonical form, so ``format(parse(canonical)) == canonical``.
- Dates are naive ``datetime`` for local time (four spaces in the zone), aware for a military zone
  letter (``Z`` = UTC). Formatting an aware time whose offset has no letter converts it to UTC.
- The bitmap classes are frozen dataclasses of named booleans; their wire parse and print are
  memoised in small bounded caches (pure functions, so the caches change nothing but speed),
  because building a 14-field frozen dataclass per frame was the largest single decode cost.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from operator import attrgetter
from types import MappingProxyType
from typing import ClassVar, TypeVar

DATE_WIDTH = 18
BLANK_DATE = " " * DATE_WIDTH

# Military time-zone letters (reference 4.1): only the last of the four zone characters counts.
_LETTER_HOURS: dict[str, int] = {
    **{letter: hours for hours, letter in enumerate("ABCDEFGHI", start=1)},
    "K": 10,
    "L": 11,
    "M": 12,
    **{letter: -hours for hours, letter in enumerate("NOPQRSTUVWXY", start=1)},
}
ZONE_BY_LETTER: MappingProxyType[str, timezone] = MappingProxyType(
    {"Z": UTC, **{k: timezone(timedelta(hours=v)) for k, v in _LETTER_HOURS.items()}}
)
LETTER_BY_OFFSET: MappingProxyType[timedelta, str] = MappingProxyType(
    {timedelta(0): "Z", **{timedelta(hours=v): k for k, v in _LETTER_HOURS.items()}}
)


def parse_date(text: str) -> datetime | None:
    """Parse an 18-character SIP date leniently: blank, zero or invalid dates give ``None``."""
    date, time = text[:8], text[12:]
    if len(text) != DATE_WIDTH or not date.isdigit() or not time.isdigit():
        return None
    try:
        # fromisoformat (C) is 4x faster than six int() calls; the digit checks above keep
        # ISO forms such as week dates ("2024W011") out.
        value = datetime.fromisoformat(date + "T" + time)
    except ValueError:  # 00000000, month 13, second 61 ... all mean "no usable date"
        return None
    zone = text[11]
    if zone == " ":
        return value
    tzinfo = ZONE_BY_LETTER.get(zone.upper())
    return value if tzinfo is None else value.replace(tzinfo=tzinfo)


def format_date(value: datetime | None) -> str:
    """Format as ``YYYYMMDDZZZZHHMMSS``: four spaces for naive (local) time, else a zone letter."""
    if value is None:
        return BLANK_DATE
    zone = "    "
    offset = None if value.tzinfo is None else value.utcoffset()
    if offset is not None:
        letter = LETTER_BY_OFFSET.get(offset)
        if letter is None:
            value = value.astimezone(UTC)
            letter = "Z"
        zone = "   " + letter
    # %-formatting is the fastest of f-strings, strftime and isoformat slicing (measured).
    return "%04d%02d%02d%s%02d%02d%02d" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        zone,
        value.hour,
        value.minute,
        value.second,
    )


def check_date(text: str, *, blank_ok: bool) -> str | None:
    """Why ``text`` is not a canonical SIP date, or ``None`` when it is."""
    if len(text) != DATE_WIDTH:
        return f"date must be {DATE_WIDTH} characters, got {len(text)}"
    if text == BLANK_DATE:
        return None if blank_ok else "date is blank"
    if parse_date(text) is None:
        return "not a valid YYYYMMDDZZZZHHMMSS date"
    if text[8:11] != "   " or (text[11] != " " and text[11] not in ZONE_BY_LETTER):
        return "time-zone part must be four spaces or three spaces and a zone letter"
    return None


def parse_yn(text: str) -> bool:
    """Y/N flag: ``Y`` or ``y`` is true, anything else false (reference 4.2)."""
    return text == "Y" or text == "y"


def format_yn(value: bool) -> str:
    return "Y" if value else "N"


def parse_ok(text: str) -> bool:
    """0/1 flag used by the ``ok`` fields: only ``1`` is true."""
    return text == "1"


def format_ok(value: bool) -> str:
    return "1" if value else "0"


def parse_ynu(text: str) -> bool | None:
    """Y/N/U flag: ``None`` stands for U (unknown)."""
    if text == "Y" or text == "y":
        return True
    if text == "N" or text == "n":
        return False
    return None


def format_ynu(value: bool | None) -> str:
    return "U" if value is None else ("Y" if value else "N")


def _flags_from_wire(text: str, count: int) -> list[bool]:
    flags = [c == "Y" or c == "y" for c in text[:count]]
    flags.extend([False] * (count - len(flags)))
    return flags


@dataclasses.dataclass(frozen=True, slots=True)
class PatronStatus:
    """The 14-position patron status of 24, 26 and 64 (reference 5.1): ``Y`` = condition true.

    Positions 1-4 say *denied*, so a patron in good standing is ``PatronStatus()``.
    """

    WIDTH: ClassVar[int] = 14

    charge_privileges_denied: bool = False
    renewal_privileges_denied: bool = False
    recall_privileges_denied: bool = False
    hold_privileges_denied: bool = False
    card_reported_lost: bool = False
    too_many_items_charged: bool = False
    too_many_items_overdue: bool = False
    too_many_renewals: bool = False
    too_many_claims_of_items_returned: bool = False
    too_many_items_lost: bool = False
    excessive_outstanding_fines: bool = False
    excessive_outstanding_fees: bool = False
    recall_overdue: bool = False
    too_many_items_billed: bool = False

    @classmethod
    def from_wire(cls, text: str) -> PatronStatus:
        return _PATRON_STATUS_FROM_WIRE(text)

    @classmethod
    def unknown_patron(cls) -> PatronStatus:
        """The Koha/Evergreen answer for an unknown barcode: the four privileges denied."""
        return cls(True, True, True, True)

    def __str__(self) -> str:
        return _PATRON_STATUS_TO_WIRE(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    """The 10-position summary of 63 (reference 5.2): which item list the 64 should carry.

    Positions 7-10 are undefined and always sent as spaces. Only one category should be selected;
    ``selected`` gives the first one, which is what Koha and Evergreen honour.
    """

    WIDTH: ClassVar[int] = 10
    # Category attribute -> the 64 field that lists it.
    LIST_FIELDS: ClassVar[MappingProxyType[str, str]] = MappingProxyType(
        {
            "hold_items": "AS",
            "overdue_items": "AT",
            "charged_items": "AU",
            "fine_items": "AV",
            "recall_items": "BU",
            "unavailable_holds": "CD",
        }
    )

    hold_items: bool = False
    overdue_items: bool = False
    charged_items: bool = False
    fine_items: bool = False
    recall_items: bool = False
    unavailable_holds: bool = False

    @classmethod
    def from_wire(cls, text: str) -> Summary:
        return _SUMMARY_FROM_WIRE(text)

    @property
    def selected(self) -> str | None:
        """Attribute name of the first selected category, or ``None`` for counts only."""
        for name, flag in zip(self.LIST_FIELDS, _flags(self), strict=True):
            if flag:
                return name
        return None

    def __str__(self) -> str:
        return _SUMMARY_TO_WIRE(self)


@dataclasses.dataclass(frozen=True, slots=True)
class SupportedMessages:
    """The 16 Y/N flags of the 98 ``BX`` field (reference 5.3), one per message family."""

    WIDTH: ClassVar[int] = 16
    # Request id -> attribute, in BX position order.
    BY_MESSAGE_ID: ClassVar[MappingProxyType[str, str]] = MappingProxyType(
        {
            "23": "patron_status",
            "11": "checkout",
            "09": "checkin",
            "01": "block_patron",
            "99": "sc_acs_status",
            "97": "request_resend",
            "93": "login",
            "63": "patron_information",
            "35": "end_patron_session",
            "37": "fee_paid",
            "17": "item_information",
            "19": "item_status_update",
            "25": "patron_enable",
            "15": "hold",
            "29": "renew",
            "65": "renew_all",
        }
    )

    patron_status: bool = False
    checkout: bool = False
    checkin: bool = False
    block_patron: bool = False
    sc_acs_status: bool = False
    request_resend: bool = False
    login: bool = False
    patron_information: bool = False
    end_patron_session: bool = False
    fee_paid: bool = False
    item_information: bool = False
    item_status_update: bool = False
    patron_enable: bool = False
    hold: bool = False
    renew: bool = False
    renew_all: bool = False

    @classmethod
    def from_wire(cls, text: str) -> SupportedMessages:
        return _SUPPORTED_FROM_WIRE(text)

    @classmethod
    def all(cls) -> SupportedMessages:
        return cls(*([True] * cls.WIDTH))

    def supports(self, message_id: str) -> bool:
        """Whether the request ``message_id`` (e.g. ``"11"``) is announced as supported."""
        name = self.BY_MESSAGE_ID.get(message_id)
        return name is not None and bool(getattr(self, name))

    def __str__(self) -> str:
        return _SUPPORTED_TO_WIRE(self)


# Parsing and printing the bitmaps is memoised: a frozen dataclass of 14 booleans costs ~3 us to
# build, and kiosks send very few distinct bitmaps. The caches are bounded memos of pure
# functions (no behaviour depends on them); they made 24/64 decoding several times faster.
_CACHE_SIZE = 1024
_Bits = TypeVar("_Bits", PatronStatus, Summary, SupportedMessages)


def _flags(value: PatronStatus | Summary | SupportedMessages) -> tuple[bool, ...]:
    return tuple(getattr(value, field.name) for field in dataclasses.fields(value))


def _wire_codec(
    cls: type[_Bits], width: int, false: str, padding: str = ""
) -> tuple[Callable[[str], _Bits], Callable[[_Bits], str]]:
    names = [field.name for field in dataclasses.fields(cls)]
    getter = attrgetter(*names)

    @functools.lru_cache(maxsize=_CACHE_SIZE)
    def from_wire(text: str) -> _Bits:
        return cls(*_flags_from_wire(text, len(names)))

    @functools.lru_cache(maxsize=_CACHE_SIZE)
    def to_wire(value: _Bits) -> str:
        return "".join(["Y" if flag else false for flag in getter(value)]) + padding

    assert len(names) + len(padding) == width
    return from_wire, to_wire


_PATRON_STATUS_FROM_WIRE, _PATRON_STATUS_TO_WIRE = _wire_codec(PatronStatus, 14, " ")
_SUMMARY_FROM_WIRE, _SUMMARY_TO_WIRE = _wire_codec(Summary, 10, " ", "    ")
_SUPPORTED_FROM_WIRE, _SUPPORTED_TO_WIRE = _wire_codec(SupportedMessages, 16, "N")
