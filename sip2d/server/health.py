"""Whether the database is up, as the 98 reports it, and the outage log.

The state changes on evidence only: a connection-level failure (see
:func:`sip2d.storage.errors.is_connection_error`) from any request or from the health loop marks
the database down; any unit of work that completes marks it up again at once, so the 98 says
on line from the first checkout that works again rather than at the next health check.

An outage is logged as a story, not as one line per failed request: its start once, at ERROR,
with the error text; then at most one WARNING per ``summary_interval`` while it lasts ("still
unavailable", with the failures counted since the last line); then its end, with how long it
lasted and how many requests failed. A 20 s outage under load had written ten thousand ERROR
lines, which hid everything else and filled disks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sip2d.storage.errors import error_text

log = logging.getLogger("sip2d.server")

# Seconds between two "still unavailable" lines during one outage.
SUMMARY_INTERVAL = 30.0


@dataclass
class DatabaseHealth:
    """Whether the database answered recently; 98 reports on line only while it does."""

    online: bool = True
    last_error: str = ""
    summary_interval: float = SUMMARY_INTERVAL
    clock: Callable[[], float] = time.monotonic
    # Told of every change (True: up again), e.g. to set the metrics gauge.
    on_change: Callable[[bool], None] | None = None
    _since: float = field(default=0.0, repr=False)
    _failures: int = field(default=0, repr=False)
    _unreported: int = field(default=0, repr=False)
    _last_summary: float = field(default=0.0, repr=False)

    def failed(self, error: BaseException) -> None:
        """A connection-level failure: the database is (still) unavailable."""
        now = self.clock()
        self.last_error = type(error).__name__
        self._failures += 1
        if self.online:
            self.online = False
            self._since = self._last_summary = now
            self._unreported = 0
            log.error("database unavailable", extra={"error": error_text(error)})
            if self.on_change is not None:
                self.on_change(False)
            return
        self._unreported += 1
        if now - self._last_summary >= self.summary_interval:
            log.warning(
                "database still unavailable",
                extra={
                    "failures": self._unreported,
                    "seconds": round(now - self._since, 1),
                    "error": error_text(error),
                },
            )
            self._last_summary = now
            self._unreported = 0

    def succeeded(self) -> None:
        """A unit of work completed: the database is up."""
        if self.online:
            return
        self.online = True
        self.last_error = ""
        log.info(
            "database available again",
            extra={
                "outage_seconds": round(self.clock() - self._since, 1),
                "failures": self._failures,
            },
        )
        self._failures = 0
        if self.on_change is not None:
            self.on_change(True)
