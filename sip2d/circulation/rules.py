"""Circulation transactions: checkout, checkin, renew, fees, holds, blocks.

Each public function is one unit of work over a Core ``Connection`` that the caller opened
inside one transaction (``DatabaseRunner.write``): the kiosk's answer goes out only after
that transaction commits, and a failure anywhere rolls all of it back. The functions take
plain values (barcodes, flags, times) rather than SIP2 messages, so the rules read as library
rules and the wire layer stays a thin translation.

No SQL here: every read and write is a function of ``sip2d.storage`` named for what it does
(loans, holds, fees, items, patrons, journal, queries), and the rules decide over the frozen
records those return.

Times are naive UTC (storage convention). ``now`` is always passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from sip2d.storage.errors import ItemAlreadyOnLoan
from sip2d.storage.fees import (
    add_fee,
    pay_toward_fee,
    payment_recorded,
    record_payment,
    unpaid_fees,
)
from sip2d.storage.holds import (
    active_hold_of,
    cancel_hold,
    change_hold,
    first_waiting_hold,
    fulfil_holds,
    mark_hold_ready,
    place_hold,
    queue_position,
    queues_on_loans_of,
    title_waiters_besides,
    titles_wanted_from,
)
from sip2d.storage.items import lock_item, set_item_properties, set_item_status
from sip2d.storage.journal import add_journal_entry
from sip2d.storage.loans import (
    cancel_loan,
    close_loan,
    last_closed_loan,
    open_loan,
    renew_loan,
    reopen_loan,
)
from sip2d.storage.patrons import block_by_kiosk, lift_kiosk_block, lock_patron
from sip2d.storage.policies import resolve_loan_policy
from sip2d.storage.queries import (
    count_open_loans,
    get_item_by_barcode,
    get_patron,
    get_patron_by_barcode,
    holds_on_item,
    open_loan_of_item,
    open_loans_of_patron,
)
from sip2d.storage.records import (
    HoldRecord,
    ItemRecord,
    LoanPolicyRecord,
    LoanRecord,
    PatronLoan,
    PatronRecord,
)

AVAILABLE = "03"
CHARGED = "04"
ON_HOLD_SHELF = "08"
IN_TRANSIT = "10"
NOT_LOANABLE = {"11", "12", "13"}  # claimed returned, lost, missing


@dataclass(frozen=True)
class Terminal:
    """Who is asking: the kiosk account and where it stands."""

    account_id: int | None
    login: str
    location: str


@dataclass(frozen=True)
class FeeNotice:
    """A fee involved in a transaction (reference P32: report it, let the patron agree)."""

    amount_cents: int
    fee_type: str
    currency: str
    transaction_id: str = ""


@dataclass(frozen=True)
class CircResult:
    """The outcome of checkout, renew or checkin, in library terms."""

    ok: bool
    message: str = ""
    patron: Any | None = None
    item: Any | None = None
    renewal: bool = False
    due_at: datetime | None = None
    fee: FeeNotice | None = None
    # Checkin routing (reference section 8: CV alert type, CT destination, CY/DA hold patron).
    alert: bool = False
    alert_type: str = ""
    destination: str = ""
    hold_patron: Any | None = None
    sort_bin: str = ""


def days_after(moment: datetime, days: int) -> datetime:
    """``moment`` plus ``days``, saturating at the last second ``datetime`` can hold.

    A loan may be due on 9999-12-31 (a stored "never", or an off-line due date a kiosk sent):
    renewing it stays "never" instead of failing with OverflowError.
    """
    try:
        return moment + timedelta(days=days)
    except OverflowError:
        return datetime.max.replace(microsecond=0)


def _journal(
    conn: Connection,
    kind: str,
    terminal: Terminal,
    now: datetime,
    ok: bool,
    message: str,
    patron: str = "",
    item: str = "",
) -> None:
    add_journal_entry(
        conn,
        at=now,
        kind=kind,
        login=terminal.login,
        ok=ok,
        message=message,
        patron_barcode=patron,
        item_barcode=item,
    )


def patron_block_reason(patron: PatronRecord, policy: LoanPolicyRecord, now: datetime) -> str:
    """Why this patron may not borrow now, as a sentence a patron can act on; "" if allowed."""
    if patron.blocked:
        return "Your card is blocked. Please see library staff."
    if patron.is_expired(now.date()):
        return "Your card has expired. Please see library staff to renew it."
    if patron.fine_balance_cents > policy.fine_threshold_cents:
        return (
            f"Please pay your fines ({format_cents(patron.fine_balance_cents)}) before borrowing."
        )
    return ""


def overdue_fine_cents(policy: LoanPolicyRecord, days_late: int) -> int:
    """The fine for returning one item ``days_late`` days late, capped by the policy's
    ``max_fine_cents`` (0: no cap), so a long-lost book does not cost more than the library
    decided."""
    cents = days_late * policy.daily_fine_cents
    return min(cents, policy.max_fine_cents) if policy.max_fine_cents > 0 else cents


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _held_for_other(queue: list[HoldRecord], patron_id: int) -> bool:
    """Whether the first active hold on a copy (``queue``, ready first) is someone else's."""
    return bool(queue) and queue[0].patron_id != patron_id


def _available_to(conn: Connection, item: ItemRecord, patron_id: int) -> bool:
    """16's "available" (reference 7.14): not charged and not on hold for another patron.

    A copy waiting on the hold shelf for this very patron is available to them; a lost,
    missing or claimed-returned copy is not available to anyone.
    """
    return (
        item.circulation_status not in NOT_LOANABLE
        and open_loan_of_item(conn, item.id) is None
        and not _held_for_other(holds_on_item(conn, item.id), patron_id)
    )


def checkout(
    conn: Connection,
    terminal: Terminal,
    patron_barcode: str,
    item_barcode: str,
    now: datetime,
    *,
    renewal_allowed: bool = True,
    no_block: bool = False,
    transaction_at: datetime | None = None,
    nb_due_at: datetime | None = None,
    fee_acknowledged: bool = False,
    currency: str = "USD",
) -> CircResult:
    """Lend an item, or renew it when it is already out to the same patron.

    ``no_block`` marks a transaction the kiosk already performed off line: it is recorded
    with its original date and due date and is not refused for patron blocks (P31).
    """
    patron = get_patron_by_barcode(conn, patron_barcode)
    item = get_item_by_barcode(conn, item_barcode)
    if patron is None:
        result = CircResult(False, "Unknown patron. Please see library staff.", item=item)
    elif item is None:
        result = CircResult(False, "This item is not in our catalogue.", patron=patron)
    else:
        lock_patron(conn, patron.id)
        lock_item(conn, item.id)
        result = _checkout_found(
            conn,
            terminal,
            patron,
            item,
            now,
            renewal_allowed=renewal_allowed,
            no_block=no_block,
            transaction_at=transaction_at,
            nb_due_at=nb_due_at,
            fee_acknowledged=fee_acknowledged,
            currency=currency,
        )
    kind = "renew" if result.renewal else "checkout"
    _journal(conn, kind, terminal, now, result.ok, result.message, patron_barcode, item_barcode)
    return result


def _checkout_found(
    conn: Connection,
    terminal: Terminal,
    patron: Any,
    item: Any,
    now: datetime,
    *,
    renewal_allowed: bool,
    no_block: bool,
    transaction_at: datetime | None,
    nb_due_at: datetime | None,
    fee_acknowledged: bool,
    currency: str,
) -> CircResult:
    policy = resolve_loan_policy(conn, item.media_type, patron.profile)
    loan = open_loan_of_item(conn, item.id)
    if loan is not None and loan.patron_id == patron.id and not no_block:
        if not renewal_allowed:
            return CircResult(False, "This item is already checked out to you.", patron, item)
        return _renew_one(conn, patron, item, loan, policy, now)
    if not no_block:
        reason = patron_block_reason(patron, policy, now)
        limit = patron.loan_limit if patron.loan_limit is not None else policy.max_loans
        if not reason and count_open_loans(conn, patron.id) >= limit:
            reason = f"You have reached your limit of {limit} items."
        if not reason and loan is not None:
            reason = "This item is checked out to another patron. Please see library staff."
        if not reason and item.circulation_status in NOT_LOANABLE:
            reason = "This item cannot be checked out. Please see library staff."
        if not reason and _held_for_other(holds_on_item(conn, item.id), patron.id):
            reason = "This item is on hold for another patron."
        if reason:
            return CircResult(False, reason, patron, item)
        if item.checkout_fee_cents > 0 and not fee_acknowledged:
            notice = FeeNotice(item.checkout_fee_cents, "06", currency)
            message = f"This item has a fee of {format_cents(notice.amount_cents)}. Please confirm."
            return CircResult(False, message, patron, item, fee=notice)
    elif loan is not None:
        # Off-line checkout of an item we believe is out: the kiosk's record wins.
        close_loan(conn, item.id, transaction_at or now)
    checked_out_at = (transaction_at or now) if no_block else now
    due_at = nb_due_at if (no_block and nb_due_at) else days_after(checked_out_at, policy.loan_days)
    try:
        open_loan(
            conn,
            item_id=item.id,
            patron_id=patron.id,
            account_id=terminal.account_id,
            checked_out_at=checked_out_at,
            due_at=due_at,
            offline=no_block,
        )
    except ItemAlreadyOnLoan:
        return CircResult(False, "This item is checked out to another patron.", patron, item)
    set_item_status(conn, item.id, CHARGED, now)
    fulfil_holds(conn, item.id, patron.id)
    fee: FeeNotice | None = None
    if item.checkout_fee_cents > 0:
        fee_id = add_fee(
            conn,
            patron_id=patron.id,
            item_id=item.id,
            fee_type="06",
            cents=item.checkout_fee_cents,
            currency=currency,
            description="Rental fee",
            at=now,
        )
        fee = FeeNotice(item.checkout_fee_cents, "06", currency, transaction_id=f"F{fee_id}")
    return CircResult(True, "", patron, item, due_at=due_at, fee=fee)


def _renew_one(
    conn: Connection,
    patron: PatronRecord,
    item: ItemRecord,
    loan: LoanRecord | PatronLoan,
    policy: LoanPolicyRecord,
    now: datetime,
) -> CircResult:
    """Renew one loan, reading what stands in its way (holds on the copy and its title)."""
    reason = _renewal_refusal(
        patron,
        loan,
        policy,
        now,
        held_for_other=_held_for_other(holds_on_item(conn, item.id), patron.id),
        title_wanted=bool(item.title) and title_waiters_besides(conn, item.title, patron.id) > 0,
    )
    return _renew_or_refuse(conn, patron, item, loan, policy, now, reason)


def _renewal_refusal(
    patron: PatronRecord,
    loan: LoanRecord | PatronLoan,
    policy: LoanPolicyRecord,
    now: datetime,
    *,
    held_for_other: bool,
    title_wanted: bool,
) -> str:
    """Why this loan may not be renewed now; "" if it may."""
    reason = patron_block_reason(patron, policy, now)
    if not reason and loan.renewals >= policy.renewal_limit:
        reason = f"This item has reached its renewal limit ({policy.renewal_limit})."
    if not reason and held_for_other:
        reason = "This item is on hold for another patron and cannot be renewed."
    if not reason and title_wanted:
        reason = "Another patron is waiting for this title; it cannot be renewed."
    return reason


def _renew_or_refuse(
    conn: Connection,
    patron: PatronRecord,
    item: Any,
    loan: LoanRecord | PatronLoan,
    policy: LoanPolicyRecord,
    now: datetime,
    reason: str,
) -> CircResult:
    if reason:
        return CircResult(False, reason, patron, item, renewal=False, due_at=loan.due_at)
    due_at = days_after(max(now, loan.due_at), policy.loan_days)
    renew_loan(conn, loan.id, due_at)
    return CircResult(True, "", patron, item, renewal=True, due_at=due_at)


def renew(
    conn: Connection,
    terminal: Terminal,
    patron_barcode: str,
    item_barcode: str,
    now: datetime,
    *,
    third_party_allowed: bool = False,
) -> CircResult:
    """Extend a loan (29 Renew). Without third-party permission only the borrower may renew."""
    patron = get_patron_by_barcode(conn, patron_barcode)
    item = get_item_by_barcode(conn, item_barcode) if item_barcode else None
    if patron is None:
        result = CircResult(False, "Unknown patron. Please see library staff.", item=item)
    elif item is None:
        result = CircResult(False, "This item is not in our catalogue.", patron=patron)
    else:
        lock_item(conn, item.id)
        loan = open_loan_of_item(conn, item.id)
        if loan is None:
            result = CircResult(False, "This item is not checked out.", patron, item)
        elif loan.patron_id != patron.id and not third_party_allowed:
            result = CircResult(False, "This item is checked out to another patron.", patron, item)
        else:
            policy = resolve_loan_policy(conn, item.media_type, patron.profile)
            result = _renew_one(conn, patron, item, loan, policy, now)
    _journal(conn, "renew", terminal, now, result.ok, result.message, patron_barcode, item_barcode)
    return result


@dataclass(frozen=True)
class RenewAllResult:
    ok: bool
    renewed: list[str] = field(default_factory=list)
    unrenewed: list[str] = field(default_factory=list)
    message: str = ""


def renew_all(
    conn: Connection, terminal: Terminal, patron_barcode: str, now: datetime
) -> RenewAllResult:
    """Renew every item the patron has out (65); each item succeeds or fails on its own."""
    patron = get_patron_by_barcode(conn, patron_barcode)
    if patron is None:
        result = RenewAllResult(False, message="Unknown patron. Please see library staff.")
    else:
        lock_patron(conn, patron.id)
        renewed: list[str] = []
        unrenewed: list[str] = []
        # Four reads whatever the patron has out (loans, holds on those copies, titles others
        # wait for, a policy per media type), then one write per renewed loan.
        rows = open_loans_of_patron(conn, patron.id)
        queues = queues_on_loans_of(conn, patron.id) if rows else {}
        wanted = titles_wanted_from(conn, patron.id) if rows else set()
        policies: dict[str, LoanPolicyRecord] = {}
        for loan in rows:
            if loan.media_type not in policies:
                policies[loan.media_type] = resolve_loan_policy(
                    conn, loan.media_type, patron.profile
                )
            policy = policies[loan.media_type]
            reason = _renewal_refusal(
                patron,
                loan,
                policy,
                now,
                held_for_other=_held_for_other(queues.get(loan.item_id, []), patron.id),
                title_wanted=bool(loan.title) and loan.title in wanted,
            )
            outcome = _renew_or_refuse(conn, patron, None, loan, policy, now, reason)
            (renewed if outcome.ok else unrenewed).append(loan.item_barcode)
        message = (
            f"Renewed {len(renewed)} of {len(rows)} items."
            if rows
            else "You have no items to renew."
        )
        result = RenewAllResult(True, renewed, unrenewed, message)
    _journal(conn, "renew_all", terminal, now, result.ok, result.message, patron_barcode)
    return result


def checkin(
    conn: Connection,
    terminal: Terminal,
    item_barcode: str,
    now: datetime,
    *,
    no_block: bool = False,
    returned_at: datetime | None = None,
    currency: str = "USD",
) -> CircResult:
    """Return an item: close its loan, charge lateness, and route it to a hold or its home."""
    item = get_item_by_barcode(conn, item_barcode)
    if item is None:
        result = CircResult(False, "This item is not in our catalogue.")
        _journal(conn, "checkin", terminal, now, False, result.message, item=item_barcode)
        return result
    lock_item(conn, item.id)
    loan = open_loan_of_item(conn, item.id)
    previous = None
    message = ""
    when = (returned_at or now) if no_block else now
    if loan is None:
        message = "This item was not checked out."
    else:
        close_loan(conn, item.id, when)
        previous = get_patron(conn, loan.patron_id)
        assert previous is not None
        policy = resolve_loan_policy(conn, item.media_type, previous.profile)
        if policy.daily_fine_cents > 0 and when > loan.due_at:
            days = math.ceil((when - loan.due_at).total_seconds() / 86400)
            cents = overdue_fine_cents(policy, days)
            add_fee(
                conn,
                patron_id=previous.id,
                item_id=item.id,
                fee_type="04",
                cents=cents,
                currency=currency,
                description=f"Overdue {days} days",
                at=now,
            )
            message = f"Returned late: a fine of {format_cents(cents)} was added."
    hold = first_waiting_hold(conn, item.id, item.title)
    alert = False
    alert_type = ""
    destination = ""
    hold_patron = None
    sort_bin = ""
    if hold is not None:
        mark_hold_ready(conn, hold.id, item.id)
        hold_patron = get_patron(conn, hold.patron_id)
        alert = True
        destination = hold.pickup_location or terminal.location
        if destination and terminal.location and destination != terminal.location:
            alert_type, sort_bin, status = "02", "TRANSIT", IN_TRANSIT
            message = message or f"Hold for another branch: send to {destination}."
        else:
            alert_type, sort_bin, status = "01", "HOLDS", ON_HOLD_SHELF
            message = message or "Hold for a patron: place on the hold shelf."
    elif (
        item.permanent_location
        and terminal.location
        and item.permanent_location != terminal.location
    ):
        alert, alert_type, destination = True, "04", item.permanent_location
        sort_bin, status = "TRANSIT", IN_TRANSIT
        message = message or f"This item belongs to {item.permanent_location}: send it there."
    else:
        status = AVAILABLE
    set_item_status(conn, item.id, status, now, location=terminal.location)
    result = CircResult(
        True,
        message,
        patron=previous,
        item=item,
        alert=alert,
        alert_type=alert_type,
        destination=destination,
        hold_patron=hold_patron,
        sort_bin=sort_bin,
    )
    _journal(
        conn,
        "checkin",
        terminal,
        now,
        True,
        message,
        previous.barcode if previous else "",
        item_barcode,
    )
    return result


def cancel_checkout(
    conn: Connection, terminal: Terminal, item_barcode: str, now: datetime
) -> CircResult:
    """09 with BI=Y: the kiosk could not finish a checkout (e.g. desensitising failed); undo it."""
    item = get_item_by_barcode(conn, item_barcode)
    if item is None:
        return CircResult(False, "This item is not in our catalogue.")
    loan = open_loan_of_item(conn, item.id)
    if loan is None:
        return CircResult(False, "This item has no checkout to cancel.", item=item)
    cancel_loan(conn, loan.id)
    set_item_status(conn, item.id, AVAILABLE, now)
    _journal(conn, "cancel", terminal, now, True, "checkout cancelled", item=item_barcode)
    return CircResult(True, "Checkout cancelled.", item=item)


def cancel_checkin(
    conn: Connection, terminal: Terminal, patron_barcode: str, item_barcode: str, now: datetime
) -> CircResult:
    """11 with BI=Y: undo a checkin that did not complete, reopening the patron's loan."""
    patron = get_patron_by_barcode(conn, patron_barcode)
    item = get_item_by_barcode(conn, item_barcode)
    if patron is None or item is None:
        return CircResult(False, "Unknown patron or item.", patron=patron, item=item)
    last = last_closed_loan(conn, item.id)
    if last is None or last.patron_id != patron.id or open_loan_of_item(conn, item.id) is not None:
        return CircResult(False, "There is no checkin to cancel for this item.", patron, item)
    reopen_loan(conn, last.id)
    set_item_status(conn, item.id, CHARGED, now)
    _journal(conn, "cancel", terminal, now, True, "checkin cancelled", patron_barcode, item_barcode)
    return CircResult(True, "Checkin cancelled.", patron, item, due_at=last.due_at)


@dataclass(frozen=True)
class PaymentResult:
    accepted: bool
    message: str
    transaction_id: str = ""


def fee_paid(
    conn: Connection,
    terminal: Terminal,
    patron_barcode: str,
    amount_cents: int,
    now: datetime,
    *,
    fee_type: str = "01",
    payment_type: str = "00",
    currency: str = "USD",
    fee_id: str = "",
    transaction_id: str = "",
) -> PaymentResult:
    """Apply a payment (37), idempotent by the kiosk's transaction id (BK).

    A kiosk that repeats a payment with the same transaction id (after a lost response, or on a
    new connection) gets the same acceptance and no second payment.
    """
    patron = get_patron_by_barcode(conn, patron_barcode)
    if patron is None:
        return _paid(conn, terminal, now, False, "Unknown patron.", patron_barcode, transaction_id)
    lock_patron(conn, patron.id)
    if transaction_id and payment_recorded(conn, terminal.account_id, transaction_id):
        return PaymentResult(True, "Payment already recorded.", transaction_id)
    if amount_cents <= 0:
        return _paid(conn, terminal, now, False, "Invalid amount.", patron_barcode, transaction_id)
    wanted_fee: int | None = None
    if fee_id:
        number = fee_id[1:] if fee_id[:1] in ("F", "f") else fee_id
        # No row id is longer than Integer's 32 bits; a longer number would not even bind.
        if not number.isdigit() or int(number) >= 2**31:
            return _paid(conn, terminal, now, False, "Unknown fee.", patron_barcode, transaction_id)
        wanted_fee = int(number)
    open_fees = unpaid_fees(conn, patron.id, wanted_fee)
    owed = sum(fee.outstanding_cents for fee in open_fees)
    if not open_fees:
        return _paid(conn, terminal, now, False, "Nothing to pay.", patron_barcode, transaction_id)
    if amount_cents > owed:
        message = f"The amount exceeds what is owed ({format_cents(owed)})."
        return _paid(conn, terminal, now, False, message, patron_barcode, transaction_id)
    remaining = amount_cents
    for fee in open_fees:  # oldest first
        if remaining <= 0:
            break
        part = min(remaining, fee.outstanding_cents)
        pay_toward_fee(conn, fee.id, part)
        remaining -= part
    payment_id = record_payment(
        conn,
        patron_id=patron.id,
        fee_id=open_fees[0].id if fee_id else None,
        account_id=terminal.account_id,
        transaction_id=transaction_id or None,
        amount_cents=amount_cents,
        currency=currency,
        payment_type=payment_type,
        fee_type=fee_type,
        at=now,
    )
    ack = transaction_id or f"P{payment_id}"
    return _paid(conn, terminal, now, True, "Payment accepted. Thank you.", patron_barcode, ack)


def _paid(
    conn: Connection,
    terminal: Terminal,
    now: datetime,
    accepted: bool,
    message: str,
    patron_barcode: str,
    transaction_id: str,
) -> PaymentResult:
    _journal(conn, "fee_paid", terminal, now, accepted, message, patron_barcode)
    return PaymentResult(accepted, message, transaction_id)


@dataclass(frozen=True)
class HoldResult:
    ok: bool
    message: str
    available: bool = False
    queue_position: int | None = None
    pickup_location: str = ""
    expires_at: datetime | None = None
    item: Any | None = None
    title: str = ""


def hold(
    conn: Connection,
    terminal: Terminal,
    mode: str,
    patron_barcode: str,
    now: datetime,
    *,
    item_barcode: str = "",
    title: str = "",
    pickup_location: str = "",
    expires_at: datetime | None = None,
    hold_type: str = "2",
) -> HoldResult:
    """Place (+), cancel (-) or change (*) a hold on a copy or a title (15)."""
    patron = get_patron_by_barcode(conn, patron_barcode)
    item = get_item_by_barcode(conn, item_barcode) if item_barcode else None
    if patron is None:
        result = HoldResult(False, "Unknown patron.")
    elif item_barcode and item is None:
        result = HoldResult(False, "This item is not in our catalogue.")
    elif item is None and not title:
        result = HoldResult(False, "Say which item or title to hold.")
    else:
        result = _hold_found(
            conn, terminal, mode, patron, item, title, now, pickup_location, expires_at, hold_type
        )
    _journal(conn, "hold", terminal, now, result.ok, result.message, patron_barcode, item_barcode)
    return result


def _hold_found(
    conn: Connection,
    terminal: Terminal,
    mode: str,
    patron: Any,
    item: Any | None,
    title: str,
    now: datetime,
    pickup_location: str,
    expires_at: datetime | None,
    hold_type: str,
) -> HoldResult:
    title = title or (item.title if item is not None else "")
    item_id = item.id if item is not None else None
    mine = active_hold_of(conn, patron.id, item_id=item_id, title=title)
    available = item is not None and _available_to(conn, item, patron.id)
    if mode == "-":
        if mine is None:
            return HoldResult(
                False, "You have no hold on this item.", available, item=item, title=title
            )
        cancel_hold(conn, mine.id)
        return HoldResult(True, "Your hold was cancelled.", available, item=item, title=title)
    if mode == "*":
        if mine is None:
            return HoldResult(
                False, "You have no hold on this item.", available, item=item, title=title
            )
        if pickup_location or expires_at is not None:
            change_hold(
                conn, mine.id, pickup_location=pickup_location or None, expires_at=expires_at
            )
        return HoldResult(
            True,
            "Your hold was changed.",
            available,
            queue_position(conn, mine),
            pickup_location or mine.pickup_location,
            expires_at or mine.expires_at,
            item,
            title,
        )
    if mode != "+":
        return HoldResult(False, "Unknown hold mode.", available, item=item, title=title)
    if patron.blocked or patron.is_expired(now.date()):
        return HoldResult(
            False,
            "Your card cannot place holds. Please see library staff.",
            available,
            item=item,
            title=title,
        )
    if mine is not None:
        return HoldResult(
            True,
            "You already have a hold on this item.",
            available,
            queue_position(conn, mine),
            mine.pickup_location,
            mine.expires_at,
            item,
            title,
        )
    pickup = pickup_location or terminal.location
    placed = place_hold(
        conn,
        patron_id=patron.id,
        item_id=item_id,
        title=title,
        hold_type=hold_type if hold_type in ("1", "2", "3", "4") else "2",
        pickup_location=pickup,
        created_at=now,
        expires_at=expires_at,
    )
    return HoldResult(
        True,
        "Your hold was placed.",
        available,
        queue_position(conn, placed),
        pickup,
        expires_at,
        item,
        title,
    )


MSG_BLOCK_NOT_LIFTED = "This block was not set by a kiosk; a kiosk cannot lift it."


def set_patron_block(
    conn: Connection,
    terminal: Terminal,
    patron_barcode: str,
    now: datetime,
    *,
    blocked: bool,
    reason: str = "",
) -> PatronRecord | None:
    """01 Block Patron (blocked=True) and 25 Patron Enable (blocked=False) from a kiosk.

    A kiosk block is marked as the kiosk's (``block_source``) so that a kiosk may lift it
    later, and it never replaces a block already in place: a staff block keeps its source and
    staff's reason. A kiosk enable lifts only a kiosk's block; a block from staff or a policy,
    or of unknown origin, stays, because a patron at a self-check must not be able to undo what
    the desk decided. Each change is one conditional UPDATE, so a staff block that lands
    between the read and the write is neither lifted nor relabelled.

    Returns the patron as it now stands (``blocked`` tells the caller whether the enable
    lifted the block), or None for an unknown patron. The journal entry is ok when the patron
    ends as the kiosk asked.
    """
    kind = "block" if blocked else "enable"
    patron = get_patron_by_barcode(conn, patron_barcode)
    if patron is None:
        _journal(conn, kind, terminal, now, False, "Unknown patron.", patron_barcode)
        return None
    if blocked:
        block_by_kiosk(conn, patron.id, reason, now)
    else:
        lift_kiosk_block(conn, patron.id, now)
    record = get_patron(conn, patron.id)
    ok = record is not None and record.blocked == blocked
    _journal(conn, kind, terminal, now, ok, reason if ok else MSG_BLOCK_NOT_LIFTED, patron_barcode)
    return record


def update_item_properties(
    conn: Connection, terminal: Terminal, item_barcode: str, properties: str, now: datetime
) -> Any | None:
    """19 Item Status Update: store the kiosk's free-text item properties."""
    item = get_item_by_barcode(conn, item_barcode)
    if item is None:
        _journal(conn, "item_update", terminal, now, False, "Unknown item.", item=item_barcode)
        return None
    set_item_properties(conn, item.id, properties, now)
    _journal(conn, "item_update", terminal, now, True, "", item=item_barcode)
    return get_item_by_barcode(conn, item_barcode)
