"""The per-second cache behind the 98, and the per-second SIP2 and storage clocks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sip2d.config import load_config
from sip2d.server.context import ServerContext
from sip2d.server.metrics import Metrics
from sip2d.server.per_second import PerSecondCache

T0 = datetime(2024, 3, 15, 14, 30, 25, 400_000, tzinfo=UTC)


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


def context(clock: Any, *, utc_dates: bool = False) -> ServerContext:
    config = load_config(None, env={})
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, utc_dates=utc_dates)
    )
    return ServerContext(
        config=config,
        db=None,  # type: ignore[arg-type]
        hasher=None,  # type: ignore[arg-type]
        pin_checker=None,  # type: ignore[arg-type]
        metrics=Metrics(),
        clock=clock,
    )


def test_sip_now_is_one_object_per_second_and_advances() -> None:
    now = [T0]
    ctx = context(lambda: now[0])
    first = ctx.sip_now()
    assert first == T0.astimezone().replace(tzinfo=None, microsecond=0)
    now[0] = T0 + timedelta(milliseconds=500)  # 25.9 s: same second
    assert ctx.sip_now() is first
    now[0] = T0 + timedelta(milliseconds=700)  # 26.1 s
    later = ctx.sip_now()
    assert later - first == timedelta(seconds=1)


def test_sip_now_follows_a_change_of_utc_dates() -> None:
    ctx = context(lambda: T0)
    local = ctx.sip_now()
    assert local.tzinfo is None
    ctx.config = dataclasses.replace(
        ctx.config, server=dataclasses.replace(ctx.config.server, utc_dates=True)
    )
    assert ctx.sip_now() == T0.replace(microsecond=0) and ctx.sip_now().tzinfo is UTC


def test_now_utc_is_converted_once_per_second_and_follows_the_clock_both_ways() -> None:
    """The storage clock: naive UTC, whole seconds, and never a stale second (even backwards)."""
    now = [T0.astimezone(timezone(timedelta(hours=-5)))]  # an aware clock in another zone
    ctx = context(lambda: now[0])
    first = ctx.now_utc()
    assert first == datetime(2024, 3, 15, 14, 30, 25) and first.tzinfo is None
    now[0] += timedelta(milliseconds=599)  # 25.999 s
    assert ctx.now_utc() is first
    now[0] += timedelta(milliseconds=1)  # 26.000 s
    assert ctx.now_utc() == datetime(2024, 3, 15, 14, 30, 26)
    now[0] -= timedelta(seconds=3)  # the clock stepped back (NTP): so does the answer
    assert ctx.now_utc() == datetime(2024, 3, 15, 14, 30, 23)
    # The storage and SIP2 clocks are cached apart: one does not answer for the other.
    assert ctx.sip_now() == now[0].astimezone().replace(tzinfo=None, microsecond=0)
    assert ctx.now_utc() == datetime(2024, 3, 15, 14, 30, 23)
