"""Plain, immutable records handed out by the store's read helpers.

The daemon reads through SQLAlchemy Core (an ORM load costs ~6x a Core query, measured on
this project's benchmark machine), so it does not get ORM objects; it gets these frozen
dataclasses, one per table, with exactly the table's columns. Business code can pass them
around freely: they are detached from any connection and cannot lazily load or write anything.
``from_row`` takes a Core row whose keys are the column names.

Repr safety: :class:`PatronRecord` and :class:`KioskAccountRecord` keep the hash column out of
their ``repr`` so a hash never lands in a log line by accident.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Self, cast


class _FromRow:
    __slots__ = ()

    @classmethod
    def from_row(cls, row: Any) -> Self:
        """Build from a Core ``Row`` (or any mapping) keyed by column name."""
        mapping: Mapping[str, Any] = row._mapping if hasattr(row, "_mapping") else row
        names = _field_names(cast(type, cls))
        return cls(**{name: mapping[name] for name in names})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    # Memoised per class (a pure function of the class): from_row runs once per message.
    return tuple(f.name for f in dataclasses.fields(cls))


@dataclasses.dataclass(frozen=True, slots=True)
class PatronRecord(_FromRow):
    id: int
    barcode: str
    name: str
    email: str
    phone: str
    address: str
    language: str
    expires_on: date | None
    blocked: bool
    block_reason: str
    block_source: str
    fine_balance_cents: int
    loan_limit: int | None
    profile: str
    pin_hash: str | None = dataclasses.field(repr=False)
    pin_must_change: bool
    pin_failures: int
    pin_locked_until: datetime | None
    created_at: datetime
    updated_at: datetime

    def is_expired(self, today: date) -> bool:
        return self.expires_on is not None and self.expires_on < today


@dataclasses.dataclass(frozen=True, slots=True)
class ItemRecord(_FromRow):
    id: int
    barcode: str
    title: str
    author: str
    call_number: str
    media_type: str
    permanent_location: str
    current_location: str
    circulation_status: str
    security_marker: str
    holding_library: str
    properties: str
    checkout_fee_cents: int
    created_at: datetime
    updated_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class KioskAccountRecord(_FromRow):
    id: int
    login: str
    password_hash: str = dataclasses.field(repr=False)
    institution_id: str
    location_code: str
    encoding: str
    error_detection: str
    terminator: str
    allowed_networks: str
    can_checkout: bool
    can_checkin: bool
    can_renew: bool
    can_fee_paid: bool
    can_hold: bool
    can_block_patron: bool
    can_enable_patron: bool
    can_item_status: bool
    can_offline: bool
    checked_in_ok: bool
    enabled: bool
    created_at: datetime

    @property
    def networks(self) -> list[str]:
        """The allowed client networks as a list; empty means any address."""
        return [n for n in (part.strip() for part in self.allowed_networks.split(",")) if n]


@dataclasses.dataclass(frozen=True, slots=True)
class LoanRecord(_FromRow):
    id: int
    item_id: int
    patron_id: int
    account_id: int | None
    checked_out_at: datetime
    due_at: datetime
    renewals: int
    returned_at: datetime | None
    offline: bool


@dataclasses.dataclass(frozen=True, slots=True)
class PatronLoan(_FromRow):
    """An open loan as a patron's account shows it: the loan plus the item's identity."""

    id: int
    item_id: int
    item_barcode: str
    title: str
    media_type: str
    checked_out_at: datetime
    due_at: datetime
    renewals: int
    offline: bool

    def is_overdue(self, now: datetime) -> bool:
        return self.due_at < now


@dataclasses.dataclass(frozen=True, slots=True)
class HoldRecord(_FromRow):
    id: int
    patron_id: int
    item_id: int | None
    title: str
    hold_type: str
    pickup_location: str
    created_at: datetime
    expires_at: datetime | None
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class PatronHold(_FromRow):
    """An active hold as a patron's account lists it: the copy's barcode, if it names one."""

    id: int
    item_id: int | None
    item_barcode: str | None
    title: str
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class PatronFee(_FromRow):
    """An unpaid fee as a patron's account lists it: the copy's barcode, if it is for one."""

    id: int
    item_id: int | None
    item_barcode: str | None
    description: str


@dataclasses.dataclass(frozen=True, slots=True)
class FeeRecord(_FromRow):
    id: int
    patron_id: int
    item_id: int | None
    fee_type: str
    amount_cents: int
    paid_cents: int
    currency: str
    description: str
    created_at: datetime

    @property
    def outstanding_cents(self) -> int:
        return self.amount_cents - self.paid_cents


@dataclasses.dataclass(frozen=True, slots=True)
class LoanPolicyRecord(_FromRow):
    """The loan rules that apply to one (media type, profile); None fields matched anything."""

    id: int | None
    media_type: str | None
    profile: str | None
    loan_days: int
    renewal_limit: int
    max_loans: int
    fine_threshold_cents: int
    daily_fine_cents: int
    # 0: no cap on one late return's fine.
    max_fine_cents: int = 0
