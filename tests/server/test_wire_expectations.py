"""What deployed kiosks and test tools expect on the wire (issue #15 items 9-14), each over a
real socket against a real daemon, on both engines."""

from __future__ import annotations

from datetime import datetime

from sip2d.client import SipClient
from sip2d.protocol import (
    BlockPatron,
    CheckinResponse,
    FeePaidRequest,
    FeePaidResponse,
    HoldRequest,
    HoldResponse,
    ItemInformationResponse,
    Message,
    PatronEnableRequest,
    PatronEnableResponse,
    PatronInformationResponse,
    PatronStatusResponse,
    decode,
)
from tests.server import db_probe
from tests.server.conftest import (
    ALICE,
    BOB,
    FINED,
    HELD_ITEM,
    ITEMS,
    KIOSK,
    Running,
)

DATE = datetime.now().strftime("%Y%m%d    %H%M%S")


async def raw(client: SipClient, text: str) -> Message:
    """Send a hand-made frame (no trailer) and decode the answer."""
    await client.send_raw(text.encode("ascii") + b"\r")
    return decode(await client.receive_frame()).message


# --- item 9: extra bytes in the fixed part -------------------------------------------------


async def test_koha_emulator_item_information_with_a_language_is_answered(
    running: Running,
) -> None:
    client = await running.logged_in()
    # sip_cli_emulator.pl: "17" + language "001" + date, a field 17 does not have.
    reply = await raw(client, f"17001{DATE}AOMAIN|AB{ITEMS[0]}|AC|")
    assert isinstance(reply, ItemInformationResponse)
    assert reply.item_identifier == ITEMS[0] and reply.title_identifier == f"Title {ITEMS[0]}"
    assert reply.circulation_status == "03" and not reply.screen_message
    # The same tolerance for other messages: a 23 with two stray bytes before the date.
    status = await raw(client, f"23000XX{DATE}AOMAIN|AA{ALICE[0]}|AC|")
    assert isinstance(status, PatronStatusResponse)
    assert status.valid_patron is True and status.personal_name == "Alice Archer"


# --- item 13: 37 Fee Paid terms --------------------------------------------------------------


async def test_fee_paid_refuses_what_it_cannot_book_exactly(running: Running) -> None:
    client = await running.logged_in()
    tail = f"AOMAIN|AA{FINED}|"
    frames = {
        # The fixed part lost its codes: fee type reads "AO"; must never be paid.
        f"37{DATE}AOMAIN|BV2.00|AA{FINED}|": "",
        f"37{DATE}0400EURBV2.00|{tail}": "USD",
        f"37{DATE}0000USDBV2.00|{tail}": "fee type",
        f"37{DATE}04X1USDBV2.00|{tail}": "payment type",
        f"37{DATE}0400USDBV0.00|{tail}": "amount",
        f"37{DATE}0400USDBV-2.00|{tail}": "amount",
        f"37{DATE}0400USDBV1e2|{tail}": "amount",
        f"37{DATE}0400USDBV2.005|{tail}": "amount",
    }
    before = await db_probe.snapshot(running.url)
    for frame, words in frames.items():
        reply = await raw(client, frame)
        assert isinstance(reply, FeePaidResponse), frame
        assert reply.payment_accepted is False, frame
        assert words.lower() in reply.screen_message[0].lower(), (frame, reply.screen_message)
    assert db_probe.changes(before, await db_probe.snapshot(running.url)) == {}
    # The library's own currency and valid codes are booked.
    good = await raw(client, f"37{DATE}0400USDBV2.00|{tail}")
    assert isinstance(good, FeePaidResponse) and good.payment_accepted is True
    assert (await db_probe.patron(running.url, FINED))["fine_balance_cents"] == 2300


async def test_fee_paid_with_a_lower_case_currency_of_the_library_is_booked(
    running: Running,
) -> None:
    client = await running.logged_in()
    reply = (
        await client.request(
            FeePaidRequest(
                transaction_date=datetime.now().replace(microsecond=0),
                currency_type="usd",
                fee_amount="1.50",
                patron_identifier=FINED,
            )
        )
    ).message
    assert isinstance(reply, FeePaidResponse) and reply.payment_accepted is True


# --- item 10: 16 available -------------------------------------------------------------------


async def hold(client: SipClient, patron: tuple[str, str], item: str) -> HoldResponse:
    reply = (
        await client.request(
            HoldRequest(
                hold_mode="+",
                transaction_date=datetime.now().replace(microsecond=0),
                institution_id="MAIN",
                patron_identifier=patron[0],
                patron_password=patron[1],
                item_identifier=item,
            )
        )
    ).message
    assert isinstance(reply, HoldResponse)
    return reply


async def test_hold_available_means_not_charged_and_not_held_for_another(
    running: Running,
) -> None:
    client = await running.logged_in()
    # On the hold shelf for Bob: not available to Alice, available to Bob himself.
    assert (await hold(client, ALICE, HELD_ITEM)).available is False
    assert (await hold(client, BOB, HELD_ITEM)).available is True
    # On the shelf, nobody's: available. Once Alice waits for it, not available to Bob.
    free = await hold(client, ALICE, ITEMS[4])
    assert free.ok and free.available is True
    assert (await hold(client, BOB, ITEMS[4])).available is False
    # Charged: not available, whoever asks.
    assert (await client.checkout(BOB[0], ITEMS[3], BOB[1])).message.ok  # type: ignore[attr-defined]
    assert (await hold(client, ALICE, ITEMS[3])).available is False


# --- item 11: BD, BE, BF in 64 --------------------------------------------------------------


async def test_patron_information_carries_stored_contact_details(running: Running) -> None:
    await db_probe.update_patron(
        running.url, ALICE[0], address="1 Library Lane, Springfield", phone="+1 555 0100"
    )
    client = await running.logged_in()
    for pin in (ALICE[1], None):
        info = (await client.patron_information(ALICE[0], pin)).message
        assert isinstance(info, PatronInformationResponse)
        assert info.home_address == "1 Library Lane, Springfield"
        assert info.email_address == "alice@example.org"
        assert info.home_phone_number == "+1 555 0100"
    # Not stored: not sent (Bob has none of the three).
    bob = (await client.patron_information(BOB[0], BOB[1])).message
    assert isinstance(bob, PatronInformationResponse)
    assert (bob.home_address, bob.email_address, bob.home_phone_number) == (None, None, None)
    # A wrong PIN withholds them, as it withholds the lists.
    wrong = (await client.patron_information(ALICE[0], "0000")).message
    assert isinstance(wrong, PatronInformationResponse) and wrong.home_address is None
    # A card number alone, on a connection that never verified the PIN, does not reveal them.
    stranger = await running.client()
    assert await stranger.login(*KIOSK)
    bare = (await stranger.patron_information(ALICE[0], None)).message
    assert isinstance(bare, PatronInformationResponse)
    assert (bare.home_address, bare.email_address, bare.home_phone_number) == (None, None, None)
    await stranger.aclose()


# --- item 12: 09 of an item not on loan ------------------------------------------------------


async def test_checkin_of_an_item_not_on_loan_is_ok_0_unless_the_account_says_otherwise(
    running: Running,
) -> None:
    client = await running.logged_in()
    reply = (await client.checkin(ITEMS[0], location="BRANCH1")).message
    assert isinstance(reply, CheckinResponse)
    assert reply.ok is False and reply.item_identifier == ITEMS[0]
    assert reply.permanent_location == "BRANCH1" and "not checked out" in reply.screen_message[0]
    # An item that was on loan is checked in with ok=1 as ever.
    assert (await client.checkout(ALICE[0], ITEMS[1], ALICE[1])).message.ok  # type: ignore[attr-defined]
    lent = (await client.checkin(ITEMS[1], location="BRANCH1")).message
    assert isinstance(lent, CheckinResponse) and lent.ok is True
    # Koha's checked_in_ok, per account, from the kiosk's next login.
    await db_probe.update_account(running.url, KIOSK[0], checked_in_ok=True)
    again = await running.logged_in()
    reply = (await again.checkin(ITEMS[2], location="BRANCH1")).message
    assert isinstance(reply, CheckinResponse) and reply.ok is True


# --- item 14: BL for a known patron ---------------------------------------------------------


async def test_a_refusal_for_a_known_patron_says_the_patron_is_known(running: Running) -> None:
    await db_probe.update_account(
        running.url, KIOSK[0], can_block_patron=False, can_enable_patron=False
    )
    client = await running.logged_in()
    now = datetime.now().replace(microsecond=0)
    blocked = (
        await client.request(
            BlockPatron(card_retained=False, transaction_date=now, patron_identifier=ALICE[0])
        )
    ).message
    assert isinstance(blocked, PatronStatusResponse)
    assert blocked.valid_patron is True and blocked.personal_name == "Alice Archer"
    assert blocked.screen_message and "not available" in blocked.screen_message[0]
    enabled = (
        await client.request(
            PatronEnableRequest(
                transaction_date=now, patron_identifier=ALICE[0], patron_password=ALICE[1]
            )
        )
    ).message
    assert isinstance(enabled, PatronEnableResponse)
    assert enabled.valid_patron is True and enabled.personal_name == "Alice Archer"
    # Only an unknown card is answered BLN.
    unknown = (
        await client.request(
            BlockPatron(card_retained=False, transaction_date=now, patron_identifier="9999")
        )
    ).message
    assert isinstance(unknown, PatronStatusResponse)
    assert unknown.valid_patron is False and unknown.personal_name == ""
    assert (await db_probe.patron(running.url, ALICE[0]))["blocked"] is False
