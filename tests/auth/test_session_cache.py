"""The per-connection memory of a verified PIN: matches, endings, and what it keeps.

Every entry is tied to the stored PIN record it was verified against, so these tests pass a
record alongside the barcode; the record is opaque to the cache (any string will do).
"""

from __future__ import annotations

import gc
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sip2d.auth.session_cache import PinSessionCache, new_cache_key
from tests.auth.conftest import NOW
from tests.auth.secret_scan import find_secret

PIN = "730519"
RECORD = "$sip2d$k=test$argon2id$record-one"
NEW_RECORD = "$sip2d$k=test$argon2id$record-two"


def fresh(ttl_seconds: float = 300) -> PinSessionCache:
    return PinSessionCache(new_cache_key(), ttl_seconds=ttl_seconds)


def test_repeat_of_the_verified_pin_matches() -> None:
    cache = fresh()
    assert not cache.matches("P1", PIN, RECORD, NOW)
    assert not cache.holds("P1", RECORD, NOW)
    cache.remember("P1", PIN, RECORD, NOW)
    assert cache.patron == "P1"
    assert cache.holds("P1", RECORD, NOW)
    assert cache.matches("P1", PIN, RECORD, NOW + timedelta(seconds=299))
    assert not cache.matches("P1", "730518", RECORD, NOW)
    # A wrong PIN alone does not end the entry; the gate calls forget() for that.
    assert cache.matches("P1", PIN, RECORD, NOW)


def test_different_patron_ends_the_session() -> None:
    cache = fresh()
    cache.remember("P1", PIN, RECORD, NOW)
    assert not cache.matches("P2", PIN, RECORD, NOW)
    assert cache.patron is None
    assert not cache.matches("P1", PIN, RECORD, NOW), "the first patron must verify again"


def test_changed_record_ends_the_session() -> None:
    """A PIN change writes a new record: the old verification must stop counting at once,
    and must not come back if the record were ever seen again (the entry is gone)."""
    cache = fresh()
    cache.remember("P1", PIN, RECORD, NOW)
    assert not cache.matches("P1", PIN, NEW_RECORD, NOW)
    assert cache.patron is None
    assert not cache.holds("P1", RECORD, NOW)

    cache.remember("P1", PIN, RECORD, NOW)
    assert not cache.holds("P1", NEW_RECORD, NOW)
    assert not cache.matches("P1", PIN, RECORD, NOW)


def test_removed_pin_ends_the_session() -> None:
    """Staff clearing a PIN leaves no record (None), which never equals the verified one."""
    cache = fresh()
    cache.remember("P1", PIN, RECORD, NOW)
    assert not cache.holds("P1", None, NOW)
    assert cache.patron is None


def test_timeout() -> None:
    cache = fresh(ttl_seconds=60)
    cache.remember("P1", PIN, RECORD, NOW)
    assert cache.holds("P1", RECORD, NOW + timedelta(seconds=59))
    assert cache.matches("P1", PIN, RECORD, NOW + timedelta(seconds=59))
    assert not cache.matches("P1", PIN, RECORD, NOW + timedelta(seconds=60))
    assert cache.patron is None


def test_holds_times_out_on_its_own() -> None:
    """``holds`` is what a message without a PIN relies on, so it must expire by itself."""
    cache = fresh(ttl_seconds=60)
    cache.remember("P1", PIN, RECORD, NOW)
    assert not cache.holds("P1", RECORD, NOW + timedelta(seconds=60))
    assert cache.patron is None


def test_forget_and_disabled_cache() -> None:
    cache = fresh()
    cache.remember("P1", PIN, RECORD, NOW)
    cache.forget()
    assert not cache.matches("P1", PIN, RECORD, NOW)
    off = fresh(ttl_seconds=0)
    off.remember("P1", PIN, RECORD, NOW)
    assert off.patron is None
    assert not off.matches("P1", PIN, RECORD, NOW)
    assert not off.holds("P1", RECORD, NOW)


def test_keys_are_per_process_not_shared() -> None:
    a, b = new_cache_key(), new_cache_key()
    assert a != b and len(a) == 32
    with pytest.raises(ValueError, match="16 bytes"):
        PinSessionCache(b"short", 300)


def test_keeps_no_clear_pin() -> None:
    cache = fresh()
    pin = "".join(["73", "0519"])  # built at run time, so only the caller holds this string
    cache.remember("P1", pin, RECORD, NOW)
    held = [getattr(cache, slot) for slot in PinSessionCache.__slots__]
    assert pin not in held
    assert not find_secret(PIN, repr(cache), *(v for v in held if isinstance(v, bytes | str)))
    del pin
    gc.collect()
    assert cache.matches("P1", PIN, RECORD, NOW)


@given(
    barcode=st.text(max_size=8),
    pin=st.text(max_size=8),
    other_barcode=st.text(max_size=8),
    other_pin=st.text(max_size=8),
)
def test_only_the_exact_pair_matches(
    barcode: str, pin: str, other_barcode: str, other_pin: str
) -> None:
    cache = PinSessionCache(b"k" * 32, ttl_seconds=300)
    cache.remember(barcode, pin, RECORD, NOW)
    expected = (other_barcode, other_pin) == (barcode, pin)
    assert cache.matches(other_barcode, other_pin, RECORD, NOW) is expected


@given(record=st.text(max_size=12), other=st.text(max_size=12))
def test_only_the_exact_record_holds(record: str, other: str) -> None:
    """The record is compared whole: no prefix, case or length trick keeps an old entry."""
    cache = PinSessionCache(b"k" * 32, ttl_seconds=300)
    cache.remember("P1", PIN, record, NOW)
    assert cache.holds("P1", other, NOW) is (other == record)
