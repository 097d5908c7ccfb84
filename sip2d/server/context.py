"""Everything a connection needs from the daemon, built once and passed in (no globals).

One ``ServerContext`` per running daemon holds the configuration, the database runner, the
PIN gate, metrics, the wire clock, the shutdown event and the set of live connections.
Handlers never see it whole: each gets a narrow
:class:`~sip2d.server.handlers.context.HandlerContext`.
Tests build their own, so several daemons can run in one process without sharing anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import trio

from sip2d.config import Config, resolve_time_zone
from sip2d.server.health import DatabaseHealth
from sip2d.server.metrics import Metrics
from sip2d.server.wire_time import WireClock, utc_now
from sip2d.storage.runner import DatabaseRunner

if TYPE_CHECKING:
    from sip2d.auth.gate import PinGate


def wire_clock(config: Config, clock: Callable[[], datetime] = utc_now) -> WireClock:
    """The clock for ``config``'s ``[server] time_zone`` and ``utc_dates``."""
    server = config.server
    return WireClock(resolve_time_zone(server), utc_dates=server.utc_dates, clock=clock)


@dataclass
class ServerContext:
    config: Config
    db: DatabaseRunner
    gate: PinGate
    metrics: Metrics
    clock: Callable[[], datetime] = utc_now
    health: DatabaseHealth = field(default_factory=DatabaseHealth)
    stopping: trio.Event = field(default_factory=trio.Event)
    connections: set[Any] = field(default_factory=set)
    connections_per_address: dict[str, int] = field(default_factory=dict)
    # Key for the per-connection verified-PIN cache: random per process, never stored.
    pin_cache_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # Now, and SIP2 dates, in the configured zone (rebuilt when a reload changes them).
    wire: WireClock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.wire = wire_clock(self.config, self.clock)
        self.health.on_change = lambda online: self.metrics.db_online.set(1 if online else 0)
        self.health.summary_interval = self.config.server.outage_log_interval

    def apply(self, config: Config) -> None:
        """Put a reloaded configuration in force for the next message of every connection."""
        self.config = config
        self.gate.reconfigure(config.throttle)
        self.wire = wire_clock(config, self.clock)
        self.health.summary_interval = config.server.outage_log_interval
