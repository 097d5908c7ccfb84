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
    # sip_now's last answer: the clock's second [start, end), the utc_dates setting, the date.
    _sip_now_cache: tuple[datetime, datetime, bool, datetime] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def now_utc(self) -> datetime:
        """Current time as naive UTC, the storage convention."""
        return self.clock().astimezone(UTC).replace(tzinfo=None, microsecond=0)

    def sip_now(self) -> datetime:
        """Current time for SIP2 date fields: local wall-clock (4 spaces) or UTC (``   Z``).

        SIP2 dates have whole seconds, so the conversion (a local-time lookup for wall-clock
        dates) is done once per second of the clock and the same object returned until the
        second or the setting changes; callers may rely on that identity to cache per second.
        """
        now = self.clock()
        utc = self.config.server.utc_dates
        cached = self._sip_now_cache
        if cached is not None and cached[0] <= now < cached[1] and cached[2] == utc:
            return cached[3]
        second = now.replace(microsecond=0)
        sip = second.astimezone(UTC) if utc else second.astimezone().replace(tzinfo=None)
        self._sip_now_cache = (second, second + _ONE_SECOND, utc, sip)
        return sip
