"""A whole kiosk session against a running daemon over TCP, field by field, on both engines."""

from __future__ import annotations

from datetime import datetime

from sip2d.protocol import (
    ACSStatus,
    CheckinResponse,
    CheckoutResponse,
    EndSessionResponse,
    ItemInformationResponse,
    PatronInformationResponse,
    PatronStatusResponse,
    Summary,
)
from tests.server.conftest import ALICE, HELD_ITEM, ITEMS, KIOSK, Running


async def test_whole_kiosk_session(running: Running) -> None:
    client = await running.client()
    assert await client.login(*KIOSK)

    status = (await client.sc_status()).message
    assert isinstance(status, ACSStatus)
    assert status.online_status and status.checkin_ok and status.checkout_ok
    assert status.institution_id == "MAIN"
    assert status.protocol_version == "2.00"
    assert str(status.supported_messages) == "YYYYYYYYYYYYYYYY"
    assert status.terminal_location == "BRANCH1"

    reply = await client.patron_status(ALICE[0], ALICE[1])
    patron = reply.message
    assert isinstance(patron, PatronStatusResponse)
    assert reply.trailer is not None and reply.trailer.sequence == 2
    assert str(patron.patron_status) == " " * 14
    assert patron.valid_patron is True and patron.valid_patron_password is True
    assert patron.personal_name == "Alice Archer"
    assert patron.patron_identifier == ALICE[0]
    assert patron.fee_amount == "0.00" and patron.currency_type == "USD"

    for item in ITEMS[:3]:
        out = (await client.checkout(ALICE[0], item, ALICE[1])).message
        assert isinstance(out, CheckoutResponse)
        assert out.ok is True and out.desensitize is True and out.renewal_ok is False
        assert out.item_identifier == item and out.title_identifier == f"Title {item}"
        due = datetime.strptime(out.due_date, "%Y%m%d    %H%M%S")
        assert 20 <= (due - datetime.now()).days <= 21

    info = (
        await client.patron_information(ALICE[0], ALICE[1], summary=Summary(charged_items=True))
    ).message
    assert isinstance(info, PatronInformationResponse)
    assert info.charged_items_count == 3 and info.overdue_items_count == 0
    assert info.charged_items == tuple(ITEMS[:3])
    assert info.email_address == "alice@example.org"

    back = (await client.checkin(ITEMS[0], location="BRANCH1")).message
    assert isinstance(back, CheckinResponse)
    assert back.ok is True and back.alert is False and back.resensitize is True
    assert back.patron_identifier == ALICE[0]
    assert back.permanent_location == "BRANCH1"

    info_18 = (await client.item_information(ITEMS[1])).message
    assert isinstance(info_18, ItemInformationResponse)
    assert info_18.circulation_status == "04" and info_18.due_date

    refused = (await client.checkout(ALICE[0], HELD_ITEM, ALICE[1])).message
    assert isinstance(refused, CheckoutResponse)
    assert refused.ok is False and refused.desensitize is False
    assert refused.screen_message == ("This item is on hold for another patron.",)

    end = (await client.end_session(ALICE[0])).message
    assert isinstance(end, EndSessionResponse) and end.end_session is True
    await client.aclose()
