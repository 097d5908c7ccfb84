"""Which requests a kiosk account may send: one table, read by the dispatcher and by BX.

Each message family maps to the account permission (a ``kiosk_accounts`` column) that grants
it and, where a site can switch the family off for every kiosk, the ``[server]`` switch. The
dispatcher refuses a request the table does not allow, and the 98's BX announces exactly the
same answers, so a kiosk is never told "supported" for something it will be refused.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from sip2d.config import Config
from sip2d.protocol import SupportedMessages
from sip2d.storage.records import KioskAccountRecord

# BX attribute -> (account permission column or None for everyone, [server] switch or None).
GRANTS: Final = MappingProxyType(
    {
        "patron_status": (None, None),
        "checkout": ("can_checkout", None),
        "checkin": ("can_checkin", None),
        "block_patron": ("can_block_patron", "enable_block_patron"),
        "sc_acs_status": (None, None),
        "request_resend": (None, None),
        "login": (None, None),
        "patron_information": (None, None),
        "end_patron_session": (None, None),
        "fee_paid": ("can_fee_paid", "enable_fee_paid"),
        "item_information": (None, None),
        "item_status_update": ("can_item_status", "enable_item_status_update"),
        "patron_enable": ("can_enable_patron", "enable_patron_enable"),
        "hold": ("can_hold", "enable_holds"),
        "renew": ("can_renew", None),
        "renew_all": ("can_renew", None),
    }
)


def compute_supported(account: KioskAccountRecord | None, config: Config) -> SupportedMessages:
    """BX that tells the truth: implemented, enabled here, and permitted to this account."""
    flags: dict[str, bool] = {}
    for name, (permission, switch) in GRANTS.items():
        allowed = permission is None or (account is not None and bool(getattr(account, permission)))
        enabled = switch is None or bool(getattr(config.server, switch))
        flags[name] = allowed and enabled
    return SupportedMessages(**flags)


class Permissions:
    """:func:`compute_supported`, memoised per account record and configuration object.

    Kiosks ask for BX with every 99 keep-alive and every request is checked against it, so the
    answer is kept per account record (a changed account is a new record) and configuration
    (a reload replaces the object).
    """

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[tuple[KioskAccountRecord | None, int], SupportedMessages] = {}

    def supported(self, account: KioskAccountRecord | None, config: Config) -> SupportedMessages:
        key = (account, id(config))
        cached = self._memo.get(key)
        if cached is None:
            if len(self._memo) > 10_000:  # accounts re-read over weeks: never grow unbounded
                self._memo.clear()
            cached = self._memo[key] = compute_supported(account, config)
        return cached

    def allows(self, account: KioskAccountRecord | None, config: Config, message_id: str) -> bool:
        return self.supported(account, config).supports(message_id)
