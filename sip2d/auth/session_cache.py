"""Remembering, for one kiosk connection, that a patron's PIN was just verified.

A self-check session presents the same barcode and PIN many times: 63 Patron Information,
then an 11 Checkout per item, each carrying AD. Running argon2 (tens of milliseconds and
~19 MiB) for every one of them would make a ten-item checkout cost ten PIN verifications and
let one busy kiosk occupy the hashing threads. After one real verification the connection keeps
an HMAC-SHA256 of (barcode, PIN) under a per-process random key and compares later
presentations against it in constant time.

What this keeps in memory is never the clear PIN; the key is created by the daemon at start-up
(:func:`new_cache_key`) and handed in, so it dies with the process and no two daemons share it.
The entry ends with 35 End Patron Session (:meth:`PinSessionCache.forget`), when another patron
is presented, after ``session.pin_cache_seconds``, and the moment the patron's stored PIN record
is no longer the one that was verified: every PIN change (desk, import, the patron's own page)
writes a new record with a new salt, so the record serves as the patron's PIN serial and an old
PIN stops working on the very next message, on every connection and daemon.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

KEY_BYTES = 32


def new_cache_key() -> bytes:
    """A fresh random key for one daemon process."""
    return secrets.token_bytes(KEY_BYTES)


class PinSessionCache:
    """One connection's memory of the last verified (barcode, PIN). Not thread-safe: one per
    connection, used only from that connection's task."""

    __slots__ = ("_barcode", "_expires", "_key", "_mac", "_record", "_ttl")

    def __init__(self, key: bytes, ttl_seconds: float) -> None:
        if len(key) < 16:
            raise ValueError("session cache key must be at least 16 bytes")
        self._key = key
        self._ttl = timedelta(seconds=ttl_seconds)
        self._barcode: str | None = None
        self._record: str | None = None
        self._mac = b""
        self._expires = datetime.min

    def __repr__(self) -> str:
        state = "empty" if self._barcode is None else f"patron {self._barcode!r}"
        return f"PinSessionCache({state})"

    def _digest(self, barcode: str, pin: str) -> bytes:
        # Length-prefix the barcode so ("12", "34...") and ("123", "4...") never collide.
        data = f"{len(barcode)}:{barcode}\x00{pin}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def remember(self, barcode: str, pin: str, record: str, now: datetime) -> None:
        """Record a PIN just verified for ``barcode`` against its stored ``record``."""
        if self._ttl <= timedelta(0):
            self.forget()
            return
        self._barcode = barcode
        self._record = record
        self._mac = self._digest(barcode, pin)
        self._expires = now + self._ttl

    def holds(self, barcode: str, record: str | None, now: datetime) -> bool:
        """True while this session verified ``barcode``'s PIN and ``record`` is still the one
        verified against (no PIN change since). Anything else ends the session."""
        if self._barcode is None:
            return False
        if barcode != self._barcode or record != self._record or now >= self._expires:
            self.forget()
            return False
        return True

    def matches(self, barcode: str, pin: str, record: str | None, now: datetime) -> bool:
        """True when ``pin`` is the PIN verified for ``barcode`` in this patron session and
        the patron's stored ``record`` has not changed since."""
        if not self.holds(barcode, record, now):
            return False
        return hmac.compare_digest(self._mac, self._digest(barcode, pin))

    def forget(self) -> None:
        """End the patron session (35 End Patron Session, logout, wrong PIN, PIN change)."""
        self._barcode = None
        self._record = None
        self._mac = b""
        self._expires = datetime.min

    @property
    def patron(self) -> str | None:
        """The barcode whose PIN is remembered, if any (not secret)."""
        return self._barcode
