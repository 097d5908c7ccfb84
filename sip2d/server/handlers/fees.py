"""37 Fee Paid.

A payment that carries a PIN (AD) has it verified before the payment is recorded: a wrong PIN
refuses the payment (38 with payment accepted N) and nothing is stored, so the kiosk must not
take the money, or must hand it back. A payment without a PIN is accepted as before: paying a
fee for someone proves nothing and takes nothing from them.

The terms (currency, fee and payment type, amount) are checked first
(:mod:`.payment_terms`), and a payment sent again on a new connection or to another daemon is
answered as the first time and not booked twice, with or without BK
(:mod:`sip2d.circulation.retries`).
"""

from __future__ import annotations

from sqlalchemy import Connection

from sip2d.circulation import retries, rules
from sip2d.protocol import FeePaidRequest, FeePaidResponse, Message
from sip2d.server.handlers.context import HandlerContext, Result
from sip2d.server.handlers.once import answered, retry_window
from sip2d.server.handlers.payment_terms import amount_cents, payment_problem


async def fee_paid(ctx: HandlerContext, message: FeePaidRequest) -> Result:
    patron = message.patron_identifier
    currency = ctx.config.server.currency
    problem = payment_problem(message, currency)
    if problem is not None:
        return Result(ctx.refuse("37", problem, patron=patron), "refused")
    amount = amount_cents(message.fee_amount)
    assert amount is not None  # payment_problem checked it
    refusal = await ctx.authorise(patron, message.patron_password, required=False)
    if refusal:
        return Result(ctx.refuse("37", refusal, patron=patron), "pin_refused")
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    fee_id, transaction_id = message.fee_identifier or "", message.transaction_id or ""
    subject = retries.payment_subject(
        amount, message.fee_type, message.payment_type, currency, fee_id, transaction_id
    )
    transaction_at = ctx.clock.from_wire(message.transaction_date)
    key = retries.retry_key("37", ctx.account, patron, subject, transaction_at)

    def unit(c: Connection) -> tuple[Message, bool]:
        def apply() -> retries.Applied:
            result = rules.fee_paid(
                c,
                terminal,
                patron,
                amount,
                now,
                fee_type=message.fee_type,
                payment_type=message.payment_type,
                currency=currency,
                fee_id=fee_id,
                transaction_id=transaction_id,
            )
            response = FeePaidResponse(
                payment_accepted=result.accepted,
                transaction_date=ctx.clock.now_wire(),
                institution_id=ctx.institution,
                patron_identifier=patron,
                transaction_id=result.transaction_id or None,
                screen_message=(result.message,),
            )
            return retries.Applied(response, result.accepted)

        return retries.answer_once(c, key, now, retry_window(ctx), apply)

    return answered(*await ctx.write(unit))
