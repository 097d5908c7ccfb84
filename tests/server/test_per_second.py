"""The per-second cache behind the 98 (the per-second clocks: tests/server/test_wire_time.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sip2d.server.per_second import PerSecondCache


@dataclasses.dataclass(frozen=True)
class Account:
    login: str
    can_checkout: bool


class Builder:
    """Counts how often the cache had to build a value."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_value_is_built_once_per_key_second_and_config() -> None:
    cache: PerSecondCache[int] = PerSecondCache()
    build = Builder()
    account, config, second = object(), object(), datetime(2024, 1, 1)
    assert cache.get((account, True), second, config, build) == 1
    assert cache.get((account, True), second, config, build) == 1
    assert cache.get((account, False), second, config, build) == 2  # health is part of the key
    assert cache.get((object(), True), second, config, build) == 3  # another account
    next_second = datetime(2024, 1, 1, 0, 0, 1)
    assert cache.get((account, True), next_second, config, build) == 4
    assert cache.get((account, True), next_second, object(), build) == 5  # a reload


def test_equal_but_distinct_key_items_are_a_miss() -> None:
    """An account re-read from the database is a new object: never served the old answer."""
    cache: PerSecondCache[int] = PerSecondCache()
    build = Builder()
    second, config = datetime(2024, 1, 1), object()
    first, reread = Account("kiosk", True), Account("kiosk", True)
    assert first == reread and first is not reread
    assert cache.get((first,), second, config, build) == 1
    assert cache.get((reread,), second, config, build) == 2


def test_only_the_current_second_is_kept() -> None:
    cache: PerSecondCache[int] = PerSecondCache()
    config = object()
    for n in range(100):
        cache.get((object(),), datetime(2024, 1, 1) + timedelta(seconds=n), config, Builder())
    assert len(cache._entries) == 1
