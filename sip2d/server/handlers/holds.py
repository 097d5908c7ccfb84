"""15 Hold: place, change or cancel a hold.

A hold acts for the patron just as a checkout does, so it passes the same PIN rule
(:meth:`HandlerContext.authorise`): a presented PIN is verified before anything changes, and an
absent one follows ``session.checkout_pin``.
"""

from __future__ import annotations

from sip2d.circulation import rules
from sip2d.protocol import HoldRequest, HoldResponse
from sip2d.server.handlers.context import HandlerContext, Result
from sip2d.storage.records import ItemRecord


async def hold(ctx: HandlerContext, message: HoldRequest) -> Result:
    patron = message.patron_identifier
    item = message.item_identifier or ""
    title = message.title_identifier or ""
    refusal = await ctx.authorise(patron, message.patron_password, required=True)
    if refusal:
        return Result(ctx.refuse("15", refusal, patron=patron, item=item), "pin_refused")
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    expires = ctx.clock.from_wire(message.expiration_date)
    result = await ctx.write(
        lambda c: rules.hold(
            c,
            terminal,
            message.hold_mode,
            patron,
            now,
            item_barcode=item,
            title=title,
            pickup_location=message.pickup_location or "",
            expires_at=expires,
            hold_type=message.hold_type or "2",
        )
    )
    record: ItemRecord | None = result.item
    response = HoldResponse(
        ok=result.ok,
        available=result.available,
        transaction_date=ctx.clock.now_wire(),
        expiration_date=ctx.clock.to_wire(result.expires_at),
        queue_position=result.queue_position,
        pickup_location=result.pickup_location or None,
        institution_id=ctx.institution,
        patron_identifier=patron,
        item_identifier=item or (record.barcode if record else None),
        title_identifier=result.title or None,
        screen_message=(result.message,) if result.message else (),
    )
    return Result(response, "ok" if result.ok else "refused")
