"""What one kiosk connection remembers between messages.

A SIP2 connection is one self-check machine for days or weeks. Its state is small and lives
only as long as the TCP connection (reference 9.1, pitfall P37): the kiosk account it logged
in as, the wire settings that account chose, and the current patron's verified-PIN cache.
Error-detection state (last response, last request) belongs to :mod:`sip2d.server.exchange`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from sip2d.auth.session_cache import PinSessionCache
from sip2d.storage.records import KioskAccountRecord


def address_allowed(networks: list[str], address: str) -> bool:
    """True when ``address`` is inside one of ``networks`` (CIDR), or no networks are set."""
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def terminator_bytes(setting: str) -> bytes:
    return b"\r\n" if setting.upper() == "CRLF" else b"\r"


@dataclass
class Session:
    """Mutable per-connection state, owned by exactly one connection task."""

    connection_id: str
    address: str
    pin_cache: PinSessionCache
    account: KioskAccountRecord | None = None
    # From 99 SC Status: protocol version the kiosk speaks and its print width.
    protocol_version: str = "2.00"
    max_print_width: int = 0
    login_attempts: int = 0
    # The patron currently at the kiosk (set by a successful PIN check, cleared by 35).
    patron_barcode: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def logged_in(self) -> bool:
        return self.account is not None

    @property
    def login(self) -> str:
        return self.account.login if self.account else ""
