"""The per-connection memory of a verified PIN: matches, endings, and what it keeps."""

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


def test_repeat_of_the_verified_pin_matches() -> None:
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    assert not cache.matches("P1", PIN, NOW)
    cache.remember("P1", PIN, NOW)
    assert cache.patron == "P1"
    assert cache.matches("P1", PIN, NOW + timedelta(seconds=299))
    assert not cache.matches("P1", "730518", NOW)
    # A wrong PIN alone does not end the entry; the checker calls forget() for that.
    assert cache.matches("P1", PIN, NOW)


def test_different_patron_ends_the_session() -> None:
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    cache.remember("P1", PIN, NOW)
    assert not cache.matches("P2", PIN, NOW)
    assert cache.patron is None
    assert not cache.matches("P1", PIN, NOW), "the first patron must verify again"


def test_timeout() -> None:
    cache = PinSessionCache(new_cache_key(), ttl_seconds=60)
    cache.remember("P1", PIN, NOW)
    assert cache.matches("P1", PIN, NOW + timedelta(seconds=59))
    assert not cache.matches("P1", PIN, NOW + timedelta(seconds=60))
    assert cache.patron is None


def test_forget_and_disabled_cache() -> None:
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    cache.remember("P1", PIN, NOW)
    cache.forget()
    assert not cache.matches("P1", PIN, NOW)
    off = PinSessionCache(new_cache_key(), ttl_seconds=0)
    off.remember("P1", PIN, NOW)
    assert not off.matches("P1", PIN, NOW)


def test_keys_are_per_process_not_shared() -> None:
    a, b = new_cache_key(), new_cache_key()
    assert a != b and len(a) == 32
    with pytest.raises(ValueError, match="16 bytes"):
        PinSessionCache(b"short", 300)


def test_keeps_no_clear_pin() -> None:
    cache = PinSessionCache(new_cache_key(), ttl_seconds=300)
    pin = "".join(["73", "0519"])  # built at run time, so only the caller holds this string
    cache.remember("P1", pin, NOW)
    held = [getattr(cache, slot) for slot in PinSessionCache.__slots__]
    assert pin not in held
    assert not find_secret(PIN, repr(cache), *(v for v in held if isinstance(v, bytes | str)))
    del pin
    gc.collect()
    assert cache.matches("P1", PIN, NOW)


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
    cache.remember(barcode, pin, NOW)
    expected = (other_barcode, other_pin) == (barcode, pin)
    assert cache.matches(other_barcode, other_pin, NOW) is expected
