"""Parsers of staff-typed and imported values: untrusted text in, a value or a reason out."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sip2d.storage import values


@given(st.text())
def test_barcode_accepts_only_sendable_single_tokens(raw: str) -> None:
    try:
        result = values.barcode(raw)
    except ValueError as exc:
        assert str(exc)
        return
    assert result == raw.strip()
    assert 0 < len(result) <= 64
    assert "|" not in result
    assert not any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in result)


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_text_never_returns_what_a_sip2_field_cannot_carry(raw: str, limit: int) -> None:
    try:
        result = values.text(raw, limit)
    except ValueError:
        return
    assert len(result) <= limit
    assert not any(ch == "|" or ord(ch) < 32 or ch == "\x7f" for ch in result)


@given(st.dates(min_value=dt.date(1000, 1, 1)))
def test_iso_dates_round_trip(day: dt.date) -> None:
    assert values.iso_date(day.isoformat()) == day


@given(st.text())
def test_iso_date_is_a_date_none_or_a_reason(raw: str) -> None:
    try:
        result = values.iso_date(raw)
    except ValueError as exc:
        assert "date" in str(exc)
        return
    assert result is None or isinstance(result, dt.date)


@pytest.mark.parametrize("raw", ["2024-02-30", "2024-13-01", "24-01-01", "2024/01/01", "soon"])
def test_bad_dates_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="date"):
        values.iso_date(raw)


@given(st.integers(min_value=0, max_value=100_000_000))
def test_amounts_round_trip_to_cents(cents: int) -> None:
    assert values.amount_cents(f"{cents // 100}.{cents % 100:02d}") == cents


@given(st.text())
def test_amount_is_cents_or_a_reason(raw: str) -> None:
    try:
        result = values.amount_cents(raw)
    except ValueError:
        return
    assert isinstance(result, int) and 0 <= result <= 100_000_000


@pytest.mark.parametrize("raw", ["1.005", "-1", "NaN", "Infinity", "1e9", "two"])
def test_bad_amounts_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        values.amount_cents(raw)


@given(st.text())
def test_boolean_is_a_bool_or_a_reason(raw: str) -> None:
    try:
        assert isinstance(values.boolean(raw), bool)
    except ValueError as exc:
        assert "true or false" in str(exc)


@given(st.text())
def test_codes_are_fixed_width_digits(raw: str) -> None:
    try:
        code = values.code_in_range(raw, 2, "03", 1, 13)
    except ValueError:
        return
    assert len(code) == 2 and code.isdigit() and 1 <= int(code) <= 13


@given(st.text())
def test_network_is_normalised_cidr_or_a_reason(raw: str) -> None:
    try:
        result = values.network(raw)
    except ValueError as exc:
        assert "CIDR" in str(exc)
        return
    assert values.network(result) == result


def test_long_values_are_shortened_in_reasons() -> None:
    with pytest.raises(ValueError) as caught:
        values.iso_date("x" * 500)
    assert len(str(caught.value)) < 80
