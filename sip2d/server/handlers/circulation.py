"""Circulation: 11 Checkout, 09 Checkin, 29 Renew and 65 Renew All.

Every patron transaction passes :meth:`HandlerContext.authorise` before the unit of work runs:
a presented PIN is verified (a wrong one refuses the transaction and changes nothing), an
absent one follows ``session.checkout_pin``.

Off-line transactions (no block = Y: the kiosk already did it while the ACS was away, P31) are
accepted as sent only from an account with the ``offline`` permission, and still only with a
right PIN when one is presented. From any other account the flag is ignored and the request is
treated as the on-line transaction it claims to repeat, with every rule applied; otherwise any
kiosk login could close another patron's loan by claiming it happened off line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection

from sip2d.circulation import retries, rules
from sip2d.protocol import (
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    Message,
    RenewAllRequest,
    RenewAllResponse,
    RenewRequest,
    RenewResponse,
)
from sip2d.server.handlers.context import MSG_UNKNOWN_ITEM, HandlerContext, Result
from sip2d.server.handlers.once import answered, refuse_at_once, retry_window
from sip2d.storage.records import ItemRecord, PatronRecord

MAGNETIC_MEDIA: Final = frozenset({"004", "005", "007", "010"})  # tapes, diskette, book+tape
MSG_WHICH_ITEM: Final = "Please say which item to renew."


def offline_accepted(ctx: HandlerContext, no_block: bool) -> bool:
    """Whether a no-block request is taken as an off-line transaction (account permission)."""
    account = ctx.account
    return no_block and account is not None and account.can_offline


def not_after(reported: datetime | None, now: datetime) -> datetime | None:
    """A time a kiosk reports for something it did (an off-line checkout or return), at the
    latest now: an event cannot have happened in the future, and a return dated 9999-12-31
    would otherwise charge millions of days of fines."""
    return None if reported is None else min(reported, now)


def _circ_response(
    cls: type[Any], ctx: HandlerContext, patron: str, item: str, result: rules.CircResult
) -> Message:
    """12 and 30: one layout."""
    record: ItemRecord | None = result.item
    fee = result.fee
    response: Message = cls(
        ok=result.ok,
        renewal_ok=result.renewal,
        magnetic_media=(record.media_type in MAGNETIC_MEDIA) if record else None,
        desensitize=result.ok,
        transaction_date=ctx.clock.now_wire(),
        institution_id=ctx.institution,
        patron_identifier=patron,
        item_identifier=item,
        title_identifier=record.title if record else "",
        due_date=ctx.clock.due_text(result.due_at) if result.ok else "",
        fee_type=fee.fee_type if fee else None,
        currency_type=fee.currency if fee else None,
        fee_amount=rules.format_cents(fee.amount_cents) if fee else None,
        media_type=record.media_type if record else None,
        transaction_id=fee.transaction_id if fee and fee.transaction_id else None,
        screen_message=(result.message,) if result.message else (),
    )
    return response


async def checkout(ctx: HandlerContext, message: CheckoutRequest) -> Result:
    patron, item = message.patron_identifier, message.item_identifier
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    if message.cancel:
        result = await ctx.write(lambda c: rules.cancel_checkin(c, terminal, patron, item, now))
        return Result(_circ_response(CheckoutResponse, ctx, patron, item, result), "cancel")
    offline = offline_accepted(ctx, message.no_block)
    refusal = await ctx.authorise(patron, message.patron_password, required=not offline)
    clock = ctx.clock
    transaction_at = not_after(clock.from_wire(message.transaction_date), now)
    nb_due = clock.from_wire(message.nb_due_date) if offline else None
    currency = ctx.config.server.currency
    key = retries.retry_key("11", ctx.account, patron, item, transaction_at)
    if refuse_at_once(refusal, message.patron_password, key):
        return Result(ctx.refuse("11", refusal or "", patron=patron, item=item), "pin_refused")

    def unit(c: Connection) -> tuple[Message, bool]:
        def apply() -> retries.Applied:
            if refusal:  # not a retry, and no PIN
                return retries.Applied(ctx.refuse("11", refusal, patron=patron, item=item), False)
            result = rules.checkout(
                c,
                terminal,
                patron,
                item,
                now,
                renewal_allowed=message.sc_renewal_policy,
                no_block=offline,
                transaction_at=transaction_at,
                nb_due_at=nb_due,
                fee_acknowledged=bool(message.fee_acknowledged),
                currency=currency,
            )
            response = _circ_response(CheckoutResponse, ctx, patron, item, result)
            loan = retries.open_loan_id(c, result.item) if result.ok else None
            return retries.Applied(response, result.ok, loan)

        return retries.answer_once(c, key, now, retry_window(ctx), apply)

    return answered(*await ctx.write(unit), pin_refused=refusal is not None)


async def renew(ctx: HandlerContext, message: RenewRequest) -> Result:
    patron, item = message.patron_identifier, message.item_identifier or ""
    if not item:
        return Result(ctx.refuse("29", MSG_WHICH_ITEM, patron=patron, item=item), "refused")
    offline = offline_accepted(ctx, message.no_block)
    refusal = await ctx.authorise(patron, message.patron_password, required=not offline)
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    third_party = message.third_party_allowed
    transaction_at = ctx.clock.from_wire(message.transaction_date)
    key = retries.retry_key("29", ctx.account, patron, item, transaction_at)
    if refuse_at_once(refusal, message.patron_password, key):
        return Result(ctx.refuse("29", refusal or "", patron=patron, item=item), "pin_refused")

    def unit(c: Connection) -> tuple[Message, bool]:
        def apply() -> retries.Applied:
            if refusal:  # not a retry, and no PIN
                return retries.Applied(ctx.refuse("29", refusal, patron=patron, item=item), False)
            result = rules.renew(c, terminal, patron, item, now, third_party_allowed=third_party)
            response = _circ_response(RenewResponse, ctx, patron, item, result)
            loan = retries.open_loan_id(c, result.item) if result.ok else None
            return retries.Applied(response, result.ok, loan)

        return retries.answer_once(c, key, now, retry_window(ctx), apply)

    return answered(*await ctx.write(unit), pin_refused=refusal is not None)


async def renew_all(ctx: HandlerContext, message: RenewAllRequest) -> Result:
    patron = message.patron_identifier
    refusal = await ctx.authorise(patron, message.patron_password, required=True)
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    transaction_at = ctx.clock.from_wire(message.transaction_date)
    key = retries.retry_key("65", ctx.account, patron, "", transaction_at)
    if refuse_at_once(refusal, message.patron_password, key):
        return Result(ctx.refuse("65", refusal or "", patron=patron), "pin_refused")

    def unit(c: Connection) -> tuple[Message, bool]:
        def apply() -> retries.Applied:
            if refusal:  # not a retry, and no PIN
                return retries.Applied(ctx.refuse("65", refusal, patron=patron), False)
            result = rules.renew_all(c, terminal, patron, now)
            response = RenewAllResponse(
                ok=result.ok,
                renewed_count=len(result.renewed),
                unrenewed_count=len(result.unrenewed),
                transaction_date=ctx.clock.now_wire(),
                institution_id=ctx.institution,
                renewed_items=tuple(result.renewed),
                unrenewed_items=tuple(result.unrenewed),
                screen_message=(result.message,) if result.message else (),
            )
            return retries.Applied(response, bool(result.renewed))

        return retries.answer_once(c, key, now, retry_window(ctx), apply)

    return answered(*await ctx.write(unit), pin_refused=refusal is not None)


async def checkin(ctx: HandlerContext, message: CheckinRequest) -> Result:
    item = message.item_identifier
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    if message.cancel:
        result = await ctx.write(lambda c: rules.cancel_checkout(c, terminal, item, now))
        return answered(_checkin_response(ctx, item, result, returned_now=False), False)
    returned = not_after(ctx.clock.from_wire(message.return_date), now)
    offline = offline_accepted(ctx, message.no_block)
    currency = ctx.config.server.currency
    transaction_at = ctx.clock.from_wire(message.transaction_date)
    key = retries.retry_key("09", ctx.account, "", item, transaction_at)

    def unit(c: Connection) -> tuple[Message, bool]:
        def apply() -> retries.Applied:
            result = rules.checkin(
                c, terminal, item, now, no_block=offline, returned_at=returned, currency=currency
            )
            response = _checkin_response(ctx, item, result, returned_now=True)
            if result.item is None:
                return retries.Applied(response, False)
            return retries.Applied(response, True, retries.latest_loan_id(c, result.item))

        return retries.answer_once(c, key, now, retry_window(ctx), apply)

    return answered(*await ctx.write(unit))


def _checkin_response(
    ctx: HandlerContext, item: str, result: rules.CircResult, *, returned_now: bool
) -> Message:
    """10 for a checkin (``returned_now``) or its cancel; the refusal form for an unknown item.

    A checkin of an item that was not on loan is answered ok=0 (what Koha and Evergreen
    answer), or ok=1 for an account with ``checked_in_ok``; either way it has been checked in
    and routed to a hold or its home, and the screen message says it was not checked out.
    """
    record: ItemRecord | None = result.item
    if record is None:
        return ctx.refuse("09", result.message or MSG_UNKNOWN_ITEM, item=item)
    hold_patron: PatronRecord | None = result.hold_patron
    # On checkin, ``patron`` is whoever had the item out.
    previous: PatronRecord | None = result.patron
    account = ctx.account
    ok = result.ok
    if returned_now and previous is None:  # there was no loan to close
        ok = account is not None and account.checked_in_ok
    response = CheckinResponse(
        ok=ok,
        resensitize=result.ok and not result.alert,
        magnetic_media=record.media_type in MAGNETIC_MEDIA,
        alert=result.alert,
        transaction_date=ctx.clock.now_wire(),
        institution_id=ctx.institution,
        item_identifier=item,
        permanent_location=record.permanent_location,
        title_identifier=record.title,
        sort_bin=result.sort_bin or None,
        patron_identifier=previous.barcode if previous else None,
        media_type=record.media_type,
        call_number=record.call_number or None,
        destination_location=result.destination or None,
        alert_type=result.alert_type or None,
        hold_patron_id=hold_patron.barcode if hold_patron else None,
        hold_patron_name=hold_patron.name if hold_patron else None,
        screen_message=(result.message,) if result.message else (),
    )
    return response
