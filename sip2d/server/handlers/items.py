"""Item requests: 17 Item Information and 19 Item Status Update. Neither carries a PIN."""

from __future__ import annotations

from sqlalchemy import Connection

from sip2d.circulation import rules
from sip2d.protocol import (
    ItemInformationRequest,
    ItemInformationResponse,
    ItemStatusUpdateRequest,
    ItemStatusUpdateResponse,
)
from sip2d.server.handlers.context import MSG_UNKNOWN_ITEM, HandlerContext, Result
from sip2d.storage.queries import get_item_by_barcode, holds_on_item, open_loan_of_item
from sip2d.storage.records import ItemRecord, LoanRecord


async def item_information(ctx: HandlerContext, message: ItemInformationRequest) -> Result:
    barcode = message.item_identifier

    def read(c: Connection) -> tuple[ItemRecord | None, LoanRecord | None, int]:
        item = get_item_by_barcode(c, barcode)
        if item is None:
            return None, None, 0
        waiting = sum(hold.status == "waiting" for hold in holds_on_item(c, item.id))
        return item, open_loan_of_item(c, item.id), waiting

    item, loan, queue = await ctx.read(read)
    if item is None:
        return Result(ctx.refuse("17", MSG_UNKNOWN_ITEM, item=barcode), "unknown_item")
    status = "04" if loan is not None else item.circulation_status
    fee = item.checkout_fee_cents
    response = ItemInformationResponse(
        circulation_status=status,
        security_marker=item.security_marker,
        fee_type="06" if fee else "01",
        transaction_date=ctx.clock.now_wire(),
        hold_queue_length=queue if queue else None,
        due_date=ctx.clock.due_text(loan.due_at) if loan else None,
        item_identifier=barcode,
        title_identifier=item.title,
        owner=item.holding_library or None,
        currency_type=ctx.config.server.currency if fee else None,
        fee_amount=rules.format_cents(fee) if fee else None,
        media_type=item.media_type,
        permanent_location=item.permanent_location or None,
        current_location=item.current_location or None,
        item_properties=item.properties or None,
        call_number=item.call_number or None,
    )
    return Result(response)


async def item_status_update(ctx: HandlerContext, message: ItemStatusUpdateRequest) -> Result:
    barcode, properties = message.item_identifier, message.item_properties or ""
    terminal, now = ctx.terminal(), ctx.clock.now_stored()
    record = await ctx.write(
        lambda c: rules.update_item_properties(c, terminal, barcode, properties, now)
    )
    if record is None:
        return Result(ctx.refuse("19", MSG_UNKNOWN_ITEM, item=barcode), "unknown_item")
    response = ItemStatusUpdateResponse(
        item_properties_ok=True,
        transaction_date=ctx.clock.now_wire(),
        item_identifier=barcode,
        title_identifier=record.title,
        item_properties=record.properties,
    )
    return Result(response)
