"""Dates, flags and the three bitmap value types (reference 4 and 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sip2d.protocol import PatronStatus, Summary, SupportedMessages, format_date, parse_date
from sip2d.protocol.values import check_date, parse_ynu


def test_local_date_round_trip() -> None:
    assert parse_date("20240315    143022") == datetime(2024, 3, 15, 14, 30, 22)
    assert format_date(datetime(2024, 3, 15, 14, 30, 22)) == "20240315    143022"


def test_utc_and_military_zones() -> None:
    assert parse_date("20240315   Z143022") == datetime(2024, 3, 15, 14, 30, 22, tzinfo=UTC)
    atlantic = parse_date("20240315   Q143022")
    assert atlantic is not None
    assert atlantic.utcoffset() == timedelta(hours=-4)
    assert format_date(atlantic) == "20240315   Q143022"
    assert parse_date("20240315   a143022") == datetime(
        2024, 3, 15, 14, 30, 22, tzinfo=timezone(timedelta(hours=1))
    )
    assert format_date(datetime(2024, 3, 15, 14, 30, 22, tzinfo=UTC)) == "20240315   Z143022"


def test_offset_without_a_letter_is_written_as_utc() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    assert format_date(datetime(2024, 3, 15, 20, 0, 0, tzinfo=india)) == "20240315   Z143000"


@pytest.mark.parametrize(
    "text",
    [" " * 18, "0" * 18, "20241315    143022", "2024031     143022", "", "abcdefghijklmnopqr"],
)
def test_blank_zero_and_invalid_dates_are_none(text: str) -> None:
    assert parse_date(text) is None


def test_odd_zone_characters_are_accepted_as_local_time() -> None:
    # Pitfall P21: devices put digits or "ZZZZ" there; only the last character counts.
    assert parse_date("202403150000143022") == datetime(2024, 3, 15, 14, 30, 22)
    zulu = parse_date("20240315ZZZZ143022")
    assert zulu is not None
    assert zulu.tzinfo is UTC


def test_format_none_is_18_spaces() -> None:
    assert format_date(None) == " " * 18


def test_check_date_reports_non_canonical_forms() -> None:
    assert check_date("20240315    143022", blank_ok=False) is None
    assert check_date(" " * 18, blank_ok=True) is None
    assert check_date(" " * 18, blank_ok=False) == "date is blank"
    assert check_date("0" * 18, blank_ok=True) is not None
    assert check_date("20240315ZZZZ143022", blank_ok=False) is not None


def test_patron_status_named_flags_and_lossless_str() -> None:
    status = PatronStatus.from_wire("YYYY  Y       ")
    assert status.charge_privileges_denied
    assert status.hold_privileges_denied
    assert not status.card_reported_lost
    assert status.too_many_items_overdue
    assert str(status) == "YYYY  Y       "
    assert status == PatronStatus(
        charge_privileges_denied=True,
        renewal_privileges_denied=True,
        recall_privileges_denied=True,
        hold_privileges_denied=True,
        too_many_items_overdue=True,
    )
    assert PatronStatus.unknown_patron() == PatronStatus.from_wire("YYYY          ")
    assert str(PatronStatus()) == " " * 14


def test_patron_status_only_y_is_true() -> None:
    # Pitfall P11: some ACSs send N; only Y/y counts. Short input is padded with "false".
    status = PatronStatus.from_wire("NyN")
    assert status == PatronStatus(renewal_privileges_denied=True)


def test_summary_selected_category() -> None:
    assert Summary.from_wire("  Y       ").selected == "charged_items"
    assert Summary.from_wire("    Y     ").selected == "recall_items"
    assert Summary.from_wire("          ").selected is None
    assert Summary.from_wire("N Y Y     ").selected == "charged_items"
    assert str(Summary(fine_items=True)) == "   Y      "
    assert Summary.LIST_FIELDS["charged_items"] == "AU"


def test_supported_messages_positions() -> None:
    bx = SupportedMessages.from_wire("YYYNYYYYYYYNNYYY")
    assert not bx.block_patron
    assert not bx.item_status_update
    assert not bx.patron_enable
    assert bx.supports("11")
    assert not bx.supports("01")
    assert not bx.supports("42")
    assert str(bx) == "YYYNYYYYYYYNNYYY"
    assert str(SupportedMessages.all()) == "Y" * 16
    assert str(SupportedMessages()) == "N" * 16


def test_ynu() -> None:
    assert parse_ynu("Y") is True
    assert parse_ynu("n") is False
    assert parse_ynu("U") is None
    assert parse_ynu(" ") is None
