"""37 Fee Paid.

A payment that carries a PIN (AD) has it verified before the payment is recorded: a wrong PIN
refuses the payment (38 with payment accepted N) and nothing is stored, so the kiosk must not
take the money, or must hand it back. A payment without a PIN is accepted as before: paying a
fee for someone proves nothing and takes nothing from them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sip2d.circulation import rules
from sip2d.protocol import FeePaidRequest, FeePaidResponse
from sip2d.server.handlers.context import HandlerContext, Result

MSG_INVALID_AMOUNT = "Invalid amount."


def parse_amount(text: str) -> int | None:
    """``"2.50"`` -> 250 cents; None for anything that is not a plain non-negative amount."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return int((amount * 100).to_integral_value())


async def fee_paid(ctx: HandlerContext, message: FeePaidRequest) -> Result:
    patron = message.patron_identifier
    amount = parse_amount(message.fee_amount)
    if amount is None:
        return Result(ctx.refuse("37", MSG_INVALID_AMOUNT, patron=patron), "refused")
    refusal = await ctx.authorise(patron, message.patron_password, required=False)
    if refusal:
        return Result(ctx.refuse("37", refusal, patron=patron), "pin_refused")
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    currency = message.currency_type or ctx.config.server.currency
    result = await ctx.write(
        lambda c: rules.fee_paid(
            c,
            terminal,
            patron,
            amount,
            now,
            fee_type=message.fee_type,
            payment_type=message.payment_type,
            currency=currency,
            fee_id=message.fee_identifier or "",
            transaction_id=message.transaction_id or "",
        )
    )
    response = FeePaidResponse(
        payment_accepted=result.accepted,
        transaction_date=ctx.clock.now_wire(),
        institution_id=ctx.institution,
        patron_identifier=patron,
        transaction_id=result.transaction_id or None,
        screen_message=(result.message,),
    )
    return Result(response, "ok" if result.accepted else "refused")
