"""SIP2 wire dates and stored times: round trips, DST, range ends, the per-second clocks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sip2d.protocol.values import ZONE_BY_LETTER, format_date, parse_date
from sip2d.server.wire_time import EARLIEST, LATEST, EverySecond, WireClock

ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",  # DST of 30 minutes
        "Pacific/Kiritimati",  # UTC+14, skipped a whole day in 1994
        "Etc/GMT+12",
    )
]
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2024, 3, 15, 14, 30, 25, 400_000, tzinfo=UTC)

whole_seconds = st.datetimes().map(lambda d: d.replace(microsecond=0))
# Away from the ends of the range, where no conversion clamps.
inner = st.datetimes(
    min_value=datetime.min + timedelta(days=1), max_value=datetime.max - timedelta(days=1)
).map(lambda d: d.replace(microsecond=0))
zones = st.sampled_from(ZONES)
# What the codec hands over: naive (four spaces) or aware with a military zone letter.
wire_values = st.datetimes(timezones=st.sampled_from([None, *ZONE_BY_LETTER.values()]))


@given(stored=inner, zone=zones, utc_dates=st.booleans())
def test_to_wire_then_from_wire_gives_the_stored_time_back(
    stored: datetime, zone: ZoneInfo, utc_dates: bool
) -> None:
    clock = WireClock(zone, utc_dates=utc_dates)
    wire = clock.to_wire(stored)
    assert wire is not None
    assert (wire.tzinfo is UTC) if utc_dates else (wire.tzinfo is None)
    assert clock.from_wire(wire) == stored


@given(stored=inner, zone=zones)
def test_through_the_18_characters_only_a_repeated_hour_is_ambiguous(
    stored: datetime, zone: ZoneInfo
) -> None:
    """The text carries no fold: the second occurrence of a wall time reads as the first."""
    clock = WireClock(zone)
    wire = clock.to_wire(stored)
    assert wire is not None
    back = clock.from_wire(parse_date(clock.due_text(stored)))
    if wire.fold == 0:
        assert back == stored
    else:
        assert back is not None and back < stored and clock.to_wire(back) == wire


@given(stored=whole_seconds, zone=zones, utc_dates=st.booleans())
def test_to_wire_never_raises_and_stays_in_range(
    stored: datetime, zone: ZoneInfo, utc_dates: bool
) -> None:
    clock = WireClock(zone, utc_dates=utc_dates)
    wire = clock.to_wire(stored)
    assert wire is not None and wire.microsecond == 0
    assert EARLIEST <= wire.replace(tzinfo=None) <= LATEST
    assert len(clock.due_text(stored)) == 18


@given(value=wire_values, zone=zones)
def test_from_wire_never_raises_and_gives_whole_seconds_of_naive_utc(
    value: datetime, zone: ZoneInfo
) -> None:
    stored = WireClock(zone).from_wire(value)
    assert stored is not None and stored.tzinfo is None and stored.microsecond == 0
    assert EARLIEST <= stored <= LATEST


@pytest.mark.parametrize(
    ("zone", "stored", "wire"),
    [
        (NEW_YORK, datetime.min, EARLIEST),  # west of UTC: year 0 would come first
        (BERLIN, datetime(1, 1, 1), datetime(1, 1, 1, 0, 53, 28)),  # east: no clamp needed
        (BERLIN, datetime.max, LATEST),
        (BERLIN, datetime(9999, 12, 31, 23, 59, 59), LATEST),
        (NEW_YORK, datetime.max, datetime(9999, 12, 31, 18, 59, 59)),
    ],
)
def test_to_wire_clamps_at_the_ends_of_the_range(
    zone: ZoneInfo, stored: datetime, wire: datetime
) -> None:
    assert WireClock(zone).to_wire(stored) == wire


@pytest.mark.parametrize(
    ("zone", "text", "stored"),
    [
        (BERLIN, "00010101    000000", EARLIEST),  # 1 Jan 0001 in Berlin is still year 0 in UTC
        (NEW_YORK, "00010101    000000", datetime(1, 1, 1, 4, 56, 2)),
        (NEW_YORK, "99991231    235959", LATEST),
        (BERLIN, "99991231    235959", datetime(9999, 12, 31, 22, 59, 59)),
        (BERLIN, "00010101   A000000", EARLIEST),  # UTC+1 by letter, whatever the zone
        (BERLIN, "99991231   Y235959", LATEST),  # UTC-12
        (BERLIN, "99991231   Z235959", LATEST),
    ],
)
def test_from_wire_clamps_at_the_ends_of_the_range(
    zone: ZoneInfo, text: str, stored: datetime
) -> None:
    assert WireClock(zone).from_wire(parse_date(text)) == stored


def test_clamped_dates_format_as_the_first_and_last_second() -> None:
    assert WireClock(NEW_YORK).due_text(datetime.min) == "00010101    000000"
    assert WireClock(BERLIN).due_text(datetime.max) == "99991231    235959"


def test_dst_fold_reads_the_first_occurrence_and_a_gap_the_offset_before_it() -> None:
    clock = WireClock(BERLIN)
    # 27 Oct 2024: 02:00-03:00 happens twice (CEST, then CET).
    assert clock.from_wire(datetime(2024, 10, 27, 2, 30)) == datetime(2024, 10, 27, 0, 30)
    second = clock.to_wire(datetime(2024, 10, 27, 1, 30))
    assert second == datetime(2024, 10, 27, 2, 30) and second.fold == 1
    assert clock.from_wire(second) == datetime(2024, 10, 27, 1, 30)
    # 31 Mar 2024: 02:00-03:00 never happens; read with CET (+1), as if not yet moved.
    assert clock.from_wire(datetime(2024, 3, 31, 2, 30)) == datetime(2024, 3, 31, 1, 30)
    assert clock.to_wire(datetime(2024, 3, 31, 1, 30)) == datetime(2024, 3, 31, 3, 30)


def test_half_hour_dst_of_lord_howe() -> None:
    clock = WireClock(ZoneInfo("Australia/Lord_Howe"))
    # Summer (+11) and winter (+10:30).
    assert clock.to_wire(datetime(2024, 1, 15, 1, 0)) == datetime(2024, 1, 15, 12, 0)
    assert clock.to_wire(datetime(2024, 7, 15, 1, 0)) == datetime(2024, 7, 15, 11, 30)


def test_local_and_utc_forms_on_the_wire() -> None:
    stored = datetime(2024, 3, 15, 14, 30, 22, 999_999)
    assert WireClock(BERLIN).due_text(stored) == "20240315    153022"
    assert WireClock(ZoneInfo("Pacific/Kiritimati")).due_text(stored) == "20240316    043022"
    utc = WireClock(BERLIN, utc_dates=True)
    assert utc.to_wire(stored) == datetime(2024, 3, 15, 14, 30, 22, tzinfo=UTC)
    assert utc.due_text(stored) == "20240315   Z143022"
    assert format_date(utc.now_wire())[8:12] == "   Z"


def test_no_date_stays_no_date() -> None:
    clock = WireClock(BERLIN)
    assert clock.to_wire(None) is None
    assert clock.from_wire(None) is None
    assert clock.due_text(None) == ""


def test_kiosk_dates_in_another_offset_are_converted_from_it() -> None:
    clock = WireClock(NEW_YORK)
    assert clock.from_wire(parse_date("20240315   Q100000")) == datetime(2024, 3, 15, 14, 0)
    assert clock.from_wire(parse_date("20240315    100000")) == datetime(2024, 3, 15, 14, 0)


def test_the_process_time_zone_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert datetime(2024, 1, 1, tzinfo=UTC).astimezone().utcoffset() == timedelta(hours=9)
        assert WireClock(BERLIN).to_wire(datetime(2024, 1, 1, 12)) == datetime(2024, 1, 1, 13)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_now_wire_is_one_object_per_second_and_advances() -> None:
    now = [T0]
    clock = WireClock(BERLIN, clock=lambda: now[0])
    first = clock.now_wire()
    assert first == datetime(2024, 3, 15, 15, 30, 25) and first.tzinfo is None
    now[0] = T0 + timedelta(milliseconds=500)  # 25.9 s: same second
    assert clock.now_wire() is first
    now[0] = T0 + timedelta(milliseconds=700)  # 26.1 s
    assert clock.now_wire() - first == timedelta(seconds=1)


def test_now_wire_in_utc_form() -> None:
    clock = WireClock(BERLIN, utc_dates=True, clock=lambda: T0)
    assert clock.now_wire() == T0.replace(microsecond=0) and clock.now_wire().tzinfo is UTC
    assert clock.now_wire() is clock.now_wire()


def test_now_stored_is_converted_once_per_second_and_follows_the_clock_both_ways() -> None:
    """The storage clock: naive UTC, whole seconds, and never a stale second (even backwards)."""
    now = [T0.astimezone(timezone(timedelta(hours=-5)))]  # an aware clock in another zone
    clock = WireClock(BERLIN, clock=lambda: now[0])
    first = clock.now_stored()
    assert first == datetime(2024, 3, 15, 14, 30, 25) and first.tzinfo is None
    now[0] += timedelta(milliseconds=599)  # 25.999 s
    assert clock.now_stored() is first
    now[0] += timedelta(milliseconds=1)  # 26.000 s
    assert clock.now_stored() == datetime(2024, 3, 15, 14, 30, 26)
    now[0] -= timedelta(seconds=3)  # the clock stepped back (NTP): so does the answer
    assert clock.now_stored() == datetime(2024, 3, 15, 14, 30, 23)
    # The two forms are cached apart: one does not answer for the other.
    assert clock.now_wire() == datetime(2024, 3, 15, 15, 30, 23)
    assert clock.now_stored() == datetime(2024, 3, 15, 14, 30, 23)


def test_every_second_converts_once_per_second() -> None:
    calls: list[datetime] = []

    def convert(second: datetime) -> datetime:
        calls.append(second)
        return second

    cache = EverySecond(convert)
    first = cache.get(T0)
    assert first == T0.replace(microsecond=0)
    assert cache.get(T0 + timedelta(milliseconds=599)) is first
    assert cache.get(T0 + timedelta(milliseconds=600)) == first + timedelta(seconds=1)
    assert len(calls) == 2
