"""SIP2 wire dates and stored times, converted in the library's configured time zone.

Why one module: a date crosses between two conventions. The database keeps naive UTC with
whole seconds; SIP2 dates (reference 4.1) are local wall-clock time of the library (four
spaces in the zone) or, with ``[server] utc_dates``, UTC (``   Z``). Every handler converts
in both directions, so the rules live here once, with the zone given explicitly: the process's
local zone (``astimezone()`` without an argument) is never consulted, because a daemon started
under another ``TZ`` than the library's would otherwise shift every due date silently.

Rules that are not obvious:

- Extremes clamp, never raise. The codec accepts years 0001..9999, so a kiosk may send
  ``00010101    000000``, and a stored "never" may be 9999-12-31. Moving such a time across a
  zone offset leaves the range of ``datetime``; the result is then :data:`EARLIEST`
  (``datetime.min``) or :data:`LATEST` (``datetime.max`` without its microseconds: every time
  here has whole seconds), naive in both directions. An exception here would drop the kiosk's
  connection for a date nobody can act on anyway.
- DST folds: a wall-clock time that occurs twice (the hour repeated when clocks go back) is
  read as its first occurrence (zoneinfo's ``fold=0``), since the wire cannot say which one a
  kiosk meant. :meth:`WireClock.to_wire` marks the second occurrence with ``fold=1``, so an
  in-memory round trip is exact; a round trip through the 18 characters gives the earlier
  instant with the same wall clock.
- DST gaps: a wall-clock time that never occurs (the hour skipped when clocks go forward) is
  read with the offset in force before the change, so 02:30 on the day Berlin springs forward
  is 01:30 UTC (03:30 summer time). ``to_wire`` never produces such a time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import MAXYEAR, UTC, datetime, timedelta, tzinfo

from sip2d.protocol.values import format_date

EARLIEST = datetime.min
LATEST = datetime.max.replace(microsecond=0)
_ONE_SECOND = timedelta(seconds=1)


def utc_now() -> datetime:
    """The real clock, as aware UTC: the default ``clock`` of a :class:`WireClock`."""
    return datetime.now(UTC)


def _wall_clock(moment: datetime, zone: tzinfo) -> datetime:
    """The aware ``moment`` as naive wall-clock time in ``zone``, whole seconds, clamped.

    Conversion overflows only within a day of the ends of the range, so the year says which
    end was passed.
    """
    try:
        shifted = moment.astimezone(zone)
    except OverflowError:
        return LATEST if moment.year == MAXYEAR else EARLIEST
    return shifted.replace(tzinfo=None, microsecond=0)


class EverySecond:
    """One conversion of the clock's time, kept while the clock stays in the same second.

    ``get(now)`` returns ``convert(now without microseconds)``, computing it only when ``now``
    leaves the second of the last computation (forwards or backwards: a clock stepped back by
    NTP is followed); within a second the same object is returned, which lets callers cache
    per second by identity.
    """

    __slots__ = ("_convert", "_last")

    def __init__(self, convert: Callable[[datetime], datetime]) -> None:
        self._convert = convert
        # (start of the second, start of the next, value) of the last conversion.
        self._last: tuple[datetime, datetime, datetime] | None = None

    def get(self, now: datetime) -> datetime:
        last = self._last
        if last is not None and last[0] <= now < last[1]:
            return last[2]
        second = now.replace(microsecond=0)
        value = self._convert(second)
        self._last = (second, second + _ONE_SECOND, value)
        return value


class WireClock:
    """Stored times to SIP2 dates and back, and the current time in both forms.

    ``zone`` is the library's zone (see ``sip2d.config.resolve_time_zone``), ``utc_dates``
    chooses the form of outgoing dates, ``clock`` returns the current time as an aware
    datetime. The settings are fixed for the object's life: a reload that changes them builds
    a new clock, so no conversion ever mixes old and new settings.
    """

    __slots__ = ("_clock", "_stored_second", "_wire_second", "utc_dates", "zone")

    def __init__(
        self, zone: tzinfo, *, utc_dates: bool = False, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.zone = zone
        self.utc_dates = utc_dates
        self._clock = clock
        self._stored_second = EverySecond(self._stored_form)
        self._wire_second = EverySecond(lambda second: self._wire_form(self._stored_form(second)))

    @staticmethod
    def _stored_form(moment: datetime) -> datetime:
        return _wall_clock(moment, UTC)

    def _wire_form(self, stored: datetime) -> datetime:
        if self.utc_dates:
            return stored.replace(tzinfo=UTC, microsecond=0)
        return _wall_clock(stored.replace(tzinfo=UTC), self.zone)

    def now_stored(self) -> datetime:
        """Current time as naive UTC with whole seconds, the storage convention.

        Called several times per message; the conversion is done once per second of the clock.
        """
        return self._stored_second.get(self._clock())

    def now_wire(self) -> datetime:
        """Current time for SIP2 date fields, in the form :meth:`to_wire` gives.

        Computed once per second of the clock and the same object returned until the second
        changes; callers (the per-second cache of the 98) rely on that identity.
        """
        return self._wire_second.get(self._clock())

    def to_wire(self, stored: datetime | None) -> datetime | None:
        """A stored naive-UTC time as a SIP2 date: naive wall clock in the zone, or aware UTC.

        Whole seconds, as the wire carries; clamped at the ends of the range (module doc).
        """
        return None if stored is None else self._wire_form(stored)

    def due_text(self, stored: datetime | None) -> str:
        """The 18-character SIP2 date of ``stored``, or "" when there is none.

        AH (due date) is free text in the spec (P22), so "no date" is an empty field; the
        18-character form is what kiosks parse.
        """
        return "" if stored is None else format_date(self._wire_form(stored))

    def from_wire(self, value: datetime | None) -> datetime | None:
        """A kiosk's SIP2 date as stored naive UTC with whole seconds.

        A naive value (four spaces on the wire) is wall-clock time in the configured zone; an
        aware one (a zone letter) is converted from its own offset. Folds, gaps and the ends
        of the range are handled as the module doc says.
        """
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return _wall_clock(value, UTC)
