"""What the authentication code reports to metrics, as a closed set of events.

The auth code does not import prometheus: it calls a sink with one of these events and the
daemon maps them onto its counters. A closed enum keeps label values bounded and makes it
impossible for a PIN, a barcode or an address to reach a metrics label by accident.
"""

from __future__ import annotations

import enum
from collections.abc import Callable


class AuthEvent(enum.Enum):
    PIN_OK = "pin_ok"
    PIN_OK_CACHED = "pin_ok_cached"
    PIN_WRONG = "pin_wrong"
    PIN_NO_PIN = "pin_no_pin"
    PIN_UNKNOWN_PATRON = "pin_unknown_patron"
    PIN_LOCKED = "pin_locked"
    PIN_SOURCE_BLOCKED = "pin_source_blocked"
    PATRON_LOCKED = "patron_locked"
    SPRAY_SLOWED = "spray_slowed"
    SPRAY_BLOCKED = "spray_blocked"
    HASH_UPGRADED = "hash_upgraded"
    LOGIN_OK = "login_ok"
    LOGIN_FAILED = "login_failed"
    LOGIN_BLOCKED = "login_blocked"
    LOGIN_ADDRESS_BLOCKED = "login_address_blocked"


# Called from the event loop; must not block. E.g. ``lambda e: counter.labels(e.value).inc()``.
MetricsSink = Callable[[AuthEvent], None]
