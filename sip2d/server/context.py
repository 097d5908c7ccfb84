"""Everything a connection needs from the daemon, built once and passed in (no globals).

One ``ServerContext`` per running daemon holds the configuration, the database runner, the
limiters, the PIN checker, metrics, the shutdown event and the set of live connections.
Tests build their own, so several daemons can run in one process without sharing anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import trio

from sip2d.config import Config
from sip2d.server.metrics import Metrics
from sip2d.storage.runner import DatabaseRunner

if TYPE_CHECKING:
    from sip2d.auth.hashing import PinHasher
    from sip2d.auth.pin_check import PinChecker
    from sip2d.server.dispatch import Dispatcher

_ONE_SECOND = timedelta(seconds=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _storage_time(second: datetime, _: object) -> datetime:
    return second.astimezone(UTC).replace(tzinfo=None)


def _sip_time(second: datetime, utc: object) -> datetime:
    return second.astimezone(UTC) if utc else second.astimezone().replace(tzinfo=None)


class EverySecond:
    """One conversion of the clock's time, kept while the clock stays in the same second.

    ``get(now, key, convert)`` returns ``convert(now without microseconds, key)``, computing it
    only when ``now`` leaves the second of the last computation or ``key`` (a setting the
    conversion depends on) changes; within a second the same object is returned.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        # (start of the second, start of the next, key, value) of the last conversion.
        self._last: tuple[datetime, datetime, object, datetime] | None = None

    def get(
        self, now: datetime, key: object, convert: Callable[[datetime, object], datetime]
    ) -> datetime:
        last = self._last
        if last is not None and last[0] <= now < last[1] and last[2] == key:
            return last[3]
        second = now.replace(microsecond=0)
        value = convert(second, key)
        self._last = (second, second + _ONE_SECOND, key, value)
        return value


@dataclass
class DatabaseHealth:
    """Whether the database answered recently; 98 reports on line only while it does."""

    online: bool = True
    last_error: str = ""

    def failed(self, error: BaseException) -> None:
        self.online = False
        self.last_error = type(error).__name__

    def succeeded(self) -> None:
        self.online = True
        self.last_error = ""


@dataclass
class ServerContext:
    config: Config
    db: DatabaseRunner
    hasher: PinHasher
    pin_checker: PinChecker
    metrics: Metrics
    clock: Callable[[], datetime] = utc_now
    health: DatabaseHealth = field(default_factory=DatabaseHealth)
    stopping: trio.Event = field(default_factory=trio.Event)
    connections: set[Any] = field(default_factory=set)
    connections_per_address: dict[str, int] = field(default_factory=dict)
    # Key for the per-connection verified-PIN cache: random per process, never stored.
    pin_cache_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    dispatcher: Dispatcher = field(init=False)
    # The clock's time converted for storage and for SIP2 dates, recomputed once a second.
    _storage_second: EverySecond = field(
        default_factory=EverySecond, init=False, repr=False, compare=False
    )
    _sip_second: EverySecond = field(
        default_factory=EverySecond, init=False, repr=False, compare=False
    )

    def now_utc(self) -> datetime:
        """Current time as naive UTC with whole seconds, the storage convention.

        Called several times per message; the conversion is done once per second of the clock.
        """
        return self._storage_second.get(self.clock(), None, _storage_time)

    def sip_now(self) -> datetime:
        """Current time for SIP2 date fields: local wall-clock (4 spaces) or UTC (``   Z``).

        SIP2 dates have whole seconds, so the conversion (a local-time lookup for wall-clock
        dates) is done once per second of the clock and the same object returned until the
        second or the setting changes; callers may rely on that identity to cache per second.
        """
        return self._sip_second.get(self.clock(), self.config.server.utc_dates, _sip_time)
