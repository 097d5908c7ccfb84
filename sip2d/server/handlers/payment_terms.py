"""What a 37 Fee Paid must say before any money is recorded.

A payment is money the kiosk has taken or is about to take, so its terms are checked before
anything else, and anything the library cannot book exactly is refused (38 with payment
accepted N and a screen message saying what was wrong):

- the currency (fixed field, ISO 4217) must be the library's ``[server] currency``: sip2d keeps
  one currency and converts nothing, so 5.00 EUR must never be booked as 5.00 USD;
- the fee type must be one of the spec's codes 01-09 (reference 5.6) and the payment type two
  digits (5.7: 00 cash, 01 VISA, 02 credit card; other two-digit codes occur in practice);
- the amount (BV) must be a plain positive decimal with at most two decimals: no sign, no
  exponent, no thousands separator, no fraction of a cent to round away.

These codes also catch a misaligned frame that the codec could still cut: in
``3720261130    220807AOMAIN|...`` the date is followed directly by the fields, so the fee type
reads ``AO`` and the payment type ``MA``, and the payment is refused rather than booked.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

from sip2d.protocol import FeePaidRequest

FEE_TYPES: Final = frozenset(f"{code:02d}" for code in range(1, 10))
# At most 99,999.99: a larger kiosk payment is a typo or an attack, never a library fine.
_AMOUNT: Final = re.compile(r"[0-9]{1,5}(?:\.[0-9]{1,2})?")

MSG_INVALID_AMOUNT: Final = "Invalid amount."
MSG_INVALID_FEE_TYPE: Final = "Invalid fee type."
MSG_INVALID_PAYMENT_TYPE: Final = "Invalid payment type."


def amount_cents(text: str) -> int | None:
    """``"2.50"`` -> 250; None for anything but a plain positive amount of whole cents."""
    text = text.strip()
    if _AMOUNT.fullmatch(text) is None:
        return None
    cents = int(Decimal(text) * 100)
    return cents if cents > 0 else None


def currency_message(currency: str) -> str:
    return f"Payments are taken in {currency} only."


def payment_problem(message: FeePaidRequest, currency: str) -> str | None:
    """The screen message refusing this payment's terms, or None when they are acceptable."""
    if message.currency_type.strip().upper() != currency.upper():
        return currency_message(currency)
    if message.fee_type not in FEE_TYPES:
        return MSG_INVALID_FEE_TYPE
    payment_type = message.payment_type
    if not (len(payment_type) == 2 and payment_type.isascii() and payment_type.isdigit()):
        return MSG_INVALID_PAYMENT_TYPE
    if amount_cents(message.fee_amount) is None:
        return MSG_INVALID_AMOUNT
    return None
