"""Every remaining message pair against a running daemon: renew, renew all, fees, holds,
block and enable, item status update, item information for unknown items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, select, update

from sip2d.protocol import (
    BlockPatron,
    CheckoutResponse,
    FeePaidRequest,
    FeePaidResponse,
    HoldRequest,
    HoldResponse,
    ItemInformationResponse,
    ItemStatusUpdateRequest,
    ItemStatusUpdateResponse,
    PatronEnableRequest,
    PatronEnableResponse,
    PatronStatusResponse,
    RenewAllRequest,
    RenewAllResponse,
    RenewRequest,
    RenewResponse,
    Summary,
)
from sip2d.storage.models import kiosk_accounts, loans
from tests.server.conftest import ALICE, BLOCKED, BOB, EXPIRED, FEE_ITEM, FINED, ITEMS, Running

NOW = datetime(2024, 3, 15, 14, 30, 25)


async def test_renew_and_renew_all(running: Running) -> None:
    client = await running.logged_in()
    for item in ITEMS[:2]:
        assert (await client.checkout(ALICE[0], item, ALICE[1])).message.ok  # type: ignore[attr-defined]
    renewed = (
        await client.request(
            RenewRequest(
                transaction_date=NOW,
                patron_identifier=ALICE[0],
                item_identifier=ITEMS[0],
                patron_password=ALICE[1],
            )
        )
    ).message
    assert isinstance(renewed, RenewResponse)
    assert renewed.ok and renewed.renewal_ok and renewed.due_date
    # Someone else may not renew it without third-party permission.
    other = (
        await client.request(
            RenewRequest(
                transaction_date=NOW,
                patron_identifier=BOB[0],
                item_identifier=ITEMS[0],
                patron_password=BOB[1],
            )
        )
    ).message
    assert isinstance(other, RenewResponse) and not other.ok
    everything = (
        await client.request(
            RenewAllRequest(
                transaction_date=NOW, patron_identifier=ALICE[0], patron_password=ALICE[1]
            )
        )
    ).message
    assert isinstance(everything, RenewAllResponse)
    assert everything.ok and everything.renewed_count == 2 and everything.unrenewed_count == 0
    assert set(everything.renewed_items) == set(ITEMS[:2])


async def test_checkout_refused_for_blocked_expired_and_fined(running: Running) -> None:
    client = await running.logged_in()
    for barcode, words in ((BLOCKED, "blocked"), (EXPIRED, "expired"), (FINED, "fines")):
        status = (await client.patron_status(barcode)).message
        assert isinstance(status, PatronStatusResponse)
        assert status.valid_patron is True and status.patron_status.charge_privileges_denied
        assert words in status.screen_message[0]
    fined = (await client.patron_status(FINED)).message
    assert isinstance(fined, PatronStatusResponse)
    assert fined.fee_amount == "25.00" and fined.patron_status.excessive_outstanding_fines


async def test_fee_paid_is_idempotent_by_transaction_id(running: Running) -> None:
    client = await running.logged_in()
    payment = FeePaidRequest(
        transaction_date=NOW,
        fee_type="04",
        payment_type="00",
        currency_type="USD",
        fee_amount="10.00",
        patron_identifier=FINED,
        transaction_id="TXN-1",
    )
    first = (await client.request(payment)).message
    assert isinstance(first, FeePaidResponse) and first.payment_accepted
    assert first.transaction_id == "TXN-1"
    second = (await client.request(payment)).message  # a new sequence number: not a wire duplicate
    assert isinstance(second, FeePaidResponse) and second.payment_accepted
    status = (await client.patron_status(FINED)).message
    assert isinstance(status, PatronStatusResponse) and status.fee_amount == "15.00"
    too_much = FeePaidRequest(
        transaction_date=NOW, fee_amount="99.00", patron_identifier=FINED, transaction_id="TXN-2"
    )
    refused = (await client.request(too_much)).message
    assert isinstance(refused, FeePaidResponse) and not refused.payment_accepted
    bad = FeePaidRequest(transaction_date=NOW, fee_amount="abc", patron_identifier=FINED)
    assert not (await client.request(bad)).message.payment_accepted  # type: ignore[attr-defined]


async def test_holds_place_change_cancel_and_list(running: Running) -> None:
    client = await running.logged_in()
    assert (await client.checkout(BOB[0], ITEMS[3], BOB[1])).message.ok  # type: ignore[attr-defined]
    placed = (
        await client.request(
            HoldRequest(
                hold_mode="+",
                transaction_date=NOW,
                pickup_location="BRANCH2",
                patron_identifier=ALICE[0],
                item_identifier=ITEMS[3],
                patron_password=ALICE[1],
            )
        )
    ).message
    assert isinstance(placed, HoldResponse)
    assert placed.ok and not placed.available and placed.queue_position == 1
    assert placed.pickup_location == "BRANCH2"
    info = (
        await client.patron_information(ALICE[0], summary=Summary(unavailable_holds=True))
    ).message
    assert info.unavailable_holds_count == 1  # type: ignore[attr-defined]
    assert info.unavailable_hold_items == (ITEMS[3],)  # type: ignore[attr-defined]
    # Bob returns it at BRANCH1: the hold is for BRANCH2, so the kiosk must alert and route it.
    back = (await client.checkin(ITEMS[3], location="BRANCH1")).message
    assert back.alert is True and back.alert_type == "02"  # type: ignore[attr-defined]
    assert back.destination_location == "BRANCH2"  # type: ignore[attr-defined]
    assert back.hold_patron_id == ALICE[0]  # type: ignore[attr-defined]
    cancelled = (
        await client.request(
            HoldRequest(
                hold_mode="-",
                transaction_date=NOW,
                patron_identifier=ALICE[0],
                item_identifier=ITEMS[3],
                patron_password=ALICE[1],
            )
        )
    ).message
    assert isinstance(cancelled, HoldResponse) and cancelled.ok


async def test_block_and_enable_patron(running: Running) -> None:
    client = await running.logged_in()
    blocked = (
        await client.request(
            BlockPatron(
                card_retained=True,
                transaction_date=NOW,
                blocked_card_msg="left in machine",
                patron_identifier=BOB[0],
            )
        )
    ).message
    assert isinstance(blocked, PatronStatusResponse)  # 01 is answered by 24
    assert blocked.valid_patron and blocked.patron_status.charge_privileges_denied
    refused = (await client.checkout(BOB[0], ITEMS[4], BOB[1])).message
    assert refused.ok is False  # type: ignore[attr-defined]
    enabled = (
        await client.request(
            PatronEnableRequest(
                transaction_date=NOW, patron_identifier=BOB[0], patron_password=BOB[1]
            )
        )
    ).message
    assert isinstance(enabled, PatronEnableResponse)
    assert not enabled.patron_status.charge_privileges_denied
    assert (await client.checkout(BOB[0], ITEMS[4], BOB[1])).message.ok  # type: ignore[attr-defined]


async def test_item_status_update_and_unknown_item(running: Running) -> None:
    client = await running.logged_in()
    updated = (
        await client.request(
            ItemStatusUpdateRequest(
                transaction_date=NOW, item_identifier=ITEMS[0], item_properties="damaged cover"
            )
        )
    ).message
    assert isinstance(updated, ItemStatusUpdateResponse)
    assert updated.item_properties_ok and updated.item_properties == "damaged cover"
    info = (await client.item_information(ITEMS[0])).message
    assert isinstance(info, ItemInformationResponse) and info.item_properties == "damaged cover"
    unknown = (await client.item_information("0000000")).message
    assert isinstance(unknown, ItemInformationResponse)
    assert unknown.circulation_status == "01" and unknown.title_identifier == ""
    unknown_patron = (await client.patron_status("99999999", "1234")).message
    assert isinstance(unknown_patron, PatronStatusResponse)
    assert str(unknown_patron.patron_status).startswith("YYYY")
    assert unknown_patron.valid_patron is False and unknown_patron.valid_patron_password is False


async def test_checkout_fee_needs_acknowledgement(running: Running) -> None:
    client = await running.logged_in()
    first = (await client.checkout(ALICE[0], FEE_ITEM, ALICE[1])).message
    assert isinstance(first, CheckoutResponse)
    assert first.ok is False and first.fee_type == "06"
    assert first.fee_amount == "1.50" and first.currency_type == "USD"
    agreed = (await client.checkout(ALICE[0], FEE_ITEM, ALICE[1], fee_acknowledged=True)).message
    assert isinstance(agreed, CheckoutResponse)
    assert agreed.ok is True and agreed.fee_amount == "1.50" and agreed.transaction_id
    status = (await client.patron_status(ALICE[0], ALICE[1])).message
    assert isinstance(status, PatronStatusResponse) and status.fee_amount == "1.50"


async def test_offline_checkout_is_accepted_with_its_original_dates(running: Running) -> None:
    engine = create_engine(running.url)
    with engine.begin() as conn:  # off-line transactions are a permission of their own
        conn.execute(update(kiosk_accounts).values(can_offline=True))
    engine.dispose()
    client = await running.logged_in()
    taken = datetime.now().replace(microsecond=0) - timedelta(days=3)
    due = taken + timedelta(days=14)
    reply = (
        await client.checkout(
            BLOCKED, ITEMS[0], None, no_block=True, transaction_date=taken, nb_due_date=due
        )
    ).message
    assert isinstance(reply, CheckoutResponse) and reply.ok is True  # not refused for the block
    assert reply.due_date == due.strftime("%Y%m%d    %H%M%S")
    engine = create_engine(running.url)
    with engine.connect() as conn:
        loan = conn.execute(select(loans)).one()
    engine.dispose()
    assert loan.offline is True
    assert (
        abs((loan.checked_out_at - taken.astimezone(UTC).replace(tzinfo=None)).total_seconds()) < 1
    )
