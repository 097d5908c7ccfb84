"""Patron requests: 23 Patron Status, 63 Patron Information, 35 End Patron Session, 01 Block
Patron and 25 Patron Enable.

A PIN presented with any of them goes through the gate (:meth:`HandlerContext.check_pin`)
before anything is shown or changed: a wrong one answers with CQ N and, for 63, no item lists
and no contact details; for 25, no block is lifted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection

from sip2d.auth.gate import PinOutcome, PinResult
from sip2d.circulation import rules
from sip2d.circulation.records import PatronLists, patron_lists
from sip2d.protocol import (
    BlockPatron,
    EndPatronSessionRequest,
    EndSessionResponse,
    Message,
    PatronEnableRequest,
    PatronEnableResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatus,
    PatronStatusRequest,
    PatronStatusResponse,
)
from sip2d.server.handlers.context import (
    MSG_INVALID_PIN,
    MSG_NOT_PERMITTED,
    MSG_PIN_REQUIRED,
    MSG_UNKNOWN_PATRON,
    HandlerContext,
    Result,
)
from sip2d.storage.queries import get_patron_by_barcode, patron_standing
from sip2d.storage.records import LoanPolicyRecord, PatronRecord

# Lists in a 64 are capped so a patron with thousands of loans cannot produce a frame larger
# than a kiosk's buffer; kiosks page with BP/BQ (reference 7.6, P28).
MAX_LIST_ITEMS: Final = 200
MSG_BLOCKED: Final = "This card has been blocked. Please see library staff."
MSG_SESSION_ENDED: Final = "Thank you. Your session has ended."


@dataclass(frozen=True)
class PatronView:
    """One read of everything 23/63 need about a patron."""

    patron: PatronRecord | None
    policy: LoanPolicyRecord | None = None
    charged: int = 0
    overdue: int = 0
    lists: PatronLists | None = None


def _view(ctx: HandlerContext, barcode: str, *, lists: bool) -> Callable[[Connection], PatronView]:
    now = ctx.clock.now_stored()

    def read(c: Connection) -> PatronView:
        standing = patron_standing(c, barcode, now)
        if standing is None:
            return PatronView(None)
        patron, policy = standing.patron, standing.policy
        if lists:
            found = patron_lists(c, patron.id, now)
            return PatronView(
                patron, policy, len(found.charged_items), len(found.overdue_items), found
            )
        return PatronView(patron, policy, standing.charged, standing.overdue)

    return read


def _status(ctx: HandlerContext, view: PatronView) -> PatronStatus:
    patron, policy = view.patron, view.policy
    if patron is None or policy is None:
        return PatronStatus.unknown_patron()
    now = ctx.clock.now_stored()
    expired = patron.is_expired(now.date())
    barred = patron.blocked or expired
    fines = patron.fine_balance_cents > policy.fine_threshold_cents
    limit = patron.loan_limit if patron.loan_limit is not None else policy.max_loans
    too_many = view.charged >= limit
    locked = patron.pin_locked_until is not None and patron.pin_locked_until > now
    return PatronStatus(
        charge_privileges_denied=barred or fines or too_many or locked,
        renewal_privileges_denied=barred or fines,
        recall_privileges_denied=barred,
        hold_privileges_denied=barred,
        too_many_items_charged=too_many,
        too_many_items_overdue=view.overdue > 0,
        excessive_outstanding_fines=fines,
    )


def _message(ctx: HandlerContext, view: PatronView, pin: PinResult | None) -> str:
    if view.patron is None:
        return MSG_UNKNOWN_PATRON
    if pin is not None and not pin.ok:
        return pin.screen_message or MSG_INVALID_PIN
    assert view.policy is not None
    return rules.patron_block_reason(view.patron, view.policy, ctx.clock.now_stored())


def _outcome(view: PatronView, pin: PinResult | None) -> str:
    if view.patron is None:
        return "unknown_patron"
    if pin is not None and not pin.ok:
        return f"pin_{pin.outcome.value}"
    return "ok"


def _status_response(
    cls: type[PatronStatusResponse] | type[PatronEnableResponse],
    ctx: HandlerContext,
    barcode: str,
    view: PatronView,
    pin: PinResult | None,
    *,
    language: str = "000",
    text: str | None = None,
) -> Message:
    """24 (for 23 and 01) and 26 (for 25): one layout, built in one place."""
    patron = view.patron
    text = _message(ctx, view, pin) if text is None else text
    fields: dict[str, Any] = {
        "patron_status": _status(ctx, view),
        "language": (patron.language if patron else None) or language or "000",
        "transaction_date": ctx.clock.now_wire(),
        "institution_id": ctx.institution,
        "patron_identifier": barcode,
        "personal_name": patron.name if patron else "",
        "valid_patron": patron is not None,
        "valid_patron_password": None if pin is None else pin.ok,
        "screen_message": (text,) if text else (),
    }
    if cls is PatronStatusResponse and patron is not None:
        fields["currency_type"] = ctx.config.server.currency
        fields["fee_amount"] = rules.format_cents(patron.fine_balance_cents)
    response: Message = cls(**fields)
    return response


async def patron_status(ctx: HandlerContext, message: PatronStatusRequest) -> Result:
    barcode = message.patron_identifier
    view = await ctx.read(_view(ctx, barcode, lists=False))
    pin = await ctx.check_pin(view.patron, barcode, message.patron_password)
    response = _status_response(
        PatronStatusResponse, ctx, barcode, view, pin, language=message.language
    )
    return Result(response, _outcome(view, pin))


async def patron_information(ctx: HandlerContext, message: PatronInformationRequest) -> Result:
    barcode = message.patron_identifier
    view = await ctx.read(_view(ctx, barcode, lists=True))
    pin = await ctx.check_pin(view.patron, barcode, message.patron_password)
    patron = view.patron
    if patron is None or view.lists is None or view.policy is None:
        return Result(ctx.refuse("63", MSG_UNKNOWN_PATRON, patron=barcode), "unknown_patron")
    found = view.lists
    refused = pin is not None and not pin.ok
    chosen: dict[str, tuple[str, ...]] = {}
    selected = message.summary.selected
    if selected is not None and not refused:
        entries = getattr(found, selected)
        start = max(message.start_item or 1, 1)
        end = message.end_item or (start + MAX_LIST_ITEMS - 1)
        end = min(end, start + MAX_LIST_ITEMS - 1)
        chosen[selected] = tuple(entries[start - 1 : end])
    # Contact details (BD, BE, BF) whenever they are stored (reference 7.6 lists them as
    # optional data of the 64; kiosks print them on the patron's screen), but only to the
    # patron: after a right PIN, or without one where the PIN rule lets the patron act without
    # (sip2d.server.handlers.context.vouched_without_pin). A card number alone, which anyone
    # at a kiosk can type, must not reveal where a patron lives.
    shown = pin.ok if pin is not None else await ctx.vouched_without_pin(barcode)
    text = _message(ctx, view, pin)
    limit = patron.loan_limit if patron.loan_limit is not None else view.policy.max_loans
    response = PatronInformationResponse(
        patron_status=_status(ctx, view),
        language=patron.language or message.language or "000",
        transaction_date=ctx.clock.now_wire(),
        hold_items_count=len(found.hold_items),
        overdue_items_count=len(found.overdue_items),
        charged_items_count=len(found.charged_items),
        fine_items_count=len(found.fine_items),
        recall_items_count=len(found.recall_items),
        unavailable_holds_count=len(found.unavailable_holds),
        institution_id=ctx.institution,
        patron_identifier=barcode,
        personal_name=patron.name,
        charged_items_limit=min(limit, 9999),
        valid_patron=True,
        valid_patron_password=None if pin is None else pin.ok,
        currency_type=ctx.config.server.currency,
        fee_amount=rules.format_cents(patron.fine_balance_cents),
        fee_limit=rules.format_cents(view.policy.fine_threshold_cents),
        hold_items=chosen.get("hold_items", ()),
        overdue_items=chosen.get("overdue_items", ()),
        charged_items=chosen.get("charged_items", ()),
        fine_items=chosen.get("fine_items", ()),
        recall_items=chosen.get("recall_items", ()),
        unavailable_hold_items=chosen.get("unavailable_holds", ()),
        home_address=patron.address if shown and patron.address else None,
        email_address=patron.email if shown and patron.email else None,
        home_phone_number=patron.phone if shown and patron.phone else None,
        screen_message=(text,) if text else (),
    )
    return Result(response, _outcome(view, pin))


async def end_patron_session(ctx: HandlerContext, message: EndPatronSessionRequest) -> Result:
    """35 ends the patron session whatever its AD says: ending one reveals nothing."""
    session = ctx.session
    session.pin_cache.forget()
    session.patron_barcode = None
    response = EndSessionResponse(
        end_session=True,
        transaction_date=ctx.clock.now_wire(),
        institution_id=ctx.institution,
        patron_identifier=message.patron_identifier,
        screen_message=(MSG_SESSION_ENDED,),
    )
    return Result(response)


async def block_patron(ctx: HandlerContext, message: BlockPatron) -> Result:
    """01: block the card (a kiosk block; a staff block already in place stays a staff one)."""
    barcode = message.patron_identifier
    reason = message.blocked_card_msg or "Blocked at a self-check terminal"
    if message.card_retained:
        reason = f"Card retained: {reason}"
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    record = await ctx.write(
        lambda c: rules.set_patron_block(c, terminal, barcode, now, blocked=True, reason=reason)
    )
    if record is None:
        return Result(ctx.refuse("01", MSG_UNKNOWN_PATRON, patron=barcode), "unknown_patron")
    view = await ctx.read(_view(ctx, barcode, lists=False))
    response = _status_response(PatronStatusResponse, ctx, barcode, view, None, text=MSG_BLOCKED)
    return Result(response)


async def patron_enable(ctx: HandlerContext, message: PatronEnableRequest) -> Result:
    """25: the PIN is verified first; only a block a kiosk set (01) is ever lifted here."""
    barcode = message.patron_identifier
    patron = await ctx.read(lambda c: get_patron_by_barcode(c, barcode))
    if patron is None:
        return Result(ctx.refuse("25", MSG_UNKNOWN_PATRON, patron=barcode), "unknown_patron")
    pin = await ctx.check_pin(patron, barcode, message.patron_password)
    if pin is None:  # re-enabling a card always takes its PIN
        pin = PinResult(PinOutcome.WRONG, MSG_PIN_REQUIRED)
    if not pin.ok:
        view = await ctx.read(_view(ctx, barcode, lists=False))
        response = _status_response(PatronEnableResponse, ctx, barcode, view, pin)
        return Result(response, _outcome(view, pin))
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    await ctx.write(lambda c: rules.set_patron_block(c, terminal, barcode, now, blocked=False))
    view = await ctx.read(_view(ctx, barcode, lists=False))
    still_blocked = view.patron is not None and view.patron.blocked
    response = _status_response(
        PatronEnableResponse, ctx, barcode, view, pin, text=MSG_BLOCKED if still_blocked else ""
    )
    return Result(response, "refused" if still_blocked else "ok")


# Requests answered by a 24 or 26, which say whether the patron is known (BL) and name them.
_STATUS_RESPONSES: Final[dict[str, type[PatronStatusResponse] | type[PatronEnableResponse]]] = {
    "23": PatronStatusResponse,
    "01": PatronStatusResponse,
    "25": PatronEnableResponse,
}


async def not_permitted(ctx: HandlerContext, message: Any) -> Result:
    """A request this kiosk account may not send, answered in its refusal form.

    Where the answer is a 24 or 26 (01 Block Patron, 25 Patron Enable), a known patron is
    still answered as known: BL Y, the name and the real status, with the refusal as screen
    message. The unknown-patron form (BL N, privileges denied) would tell the kiosk the card
    does not exist, and kiosks act on BL.
    """
    msg_id = type(message).MESSAGE_ID
    cls = _STATUS_RESPONSES.get(msg_id)
    barcode = getattr(message, "patron_identifier", "") or ""
    if cls is not None and barcode:
        view = await ctx.read(_view(ctx, barcode, lists=False))
        if view.patron is not None:
            response = _status_response(cls, ctx, barcode, view, None, text=MSG_NOT_PERMITTED)
            return Result(response, "not_permitted")
    return Result(ctx.refusal(message, MSG_NOT_PERMITTED), "not_permitted")
