"""Issue #14: who may lift a block, what a kiosk account's permissions grant, and failed logins.

A block stops a card at every kiosk, so lifting one is the most valuable thing a guessed card
can do: 25 Patron Enable must prove the PIN, and even then a kiosk lifts only a block a kiosk
set (01 Block Patron), never one staff set at the desk. Kiosk accounts carry one permission
per message family that changes records, and the 98's BX must tell the kiosk the truth about
them. The login side is checked for what operators watch (one count per refused 93) and for
the network allow-list that keeps a stolen kiosk password useless off site.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from sip2d.protocol import (
    ACSStatus,
    BlockPatron,
    ItemStatusUpdateRequest,
    ItemStatusUpdateResponse,
    LoginRequest,
    LoginResponse,
    PatronEnableRequest,
    PatronEnableResponse,
    PatronStatusResponse,
)
from tests.server import db_probe
from tests.server.conftest import ALICE, BOB, ITEMS, KIOSK, Running

WRONG_PIN = "9071"
# What the refusal says when an account lacks the permission for a message family.
NOT_AVAILABLE = "This service is not available at this terminal."


def now() -> datetime:
    return datetime.now().replace(microsecond=0)


def block(patron: str) -> BlockPatron:
    return BlockPatron(
        card_retained=False,
        transaction_date=now(),
        blocked_card_msg="card reader tampering",
        patron_identifier=patron,
    )


def enable(patron: str, pin: str) -> PatronEnableRequest:
    return PatronEnableRequest(
        transaction_date=now(), patron_identifier=patron, patron_password=pin
    )


async def grant_blocking(running: Running) -> None:
    """Let the seeded kiosk send 01 and 25, so refusals below can only be about the PIN."""
    await db_probe.update_account(
        running.url, KIOSK[0], can_block_patron=True, can_enable_patron=True
    )


async def block_alice(running: Running, source: str) -> None:
    """A staff block is set in the tables (as the desk does); a kiosk block by a real 01."""
    if source == "staff":
        await db_probe.update_patron(
            running.url, ALICE[0], blocked=True, block_source="staff", block_reason="stolen card"
        )
        return
    client = await running.logged_in()
    try:
        reply = (await client.request(block(ALICE[0]))).message
        assert isinstance(reply, PatronStatusResponse)  # 01 is answered by 24
        assert reply.patron_status.charge_privileges_denied
    finally:
        await client.aclose()


# --- C: blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["staff", "kiosk"])
async def test_a_wrong_or_empty_pin_never_lifts_a_block(running: Running, source: str) -> None:
    await grant_blocking(running)
    await block_alice(running, source)
    row = await db_probe.patron(running.url, ALICE[0])
    assert row["blocked"] is True and row["block_source"] == source
    client = await running.logged_in()
    for pin in (WRONG_PIN, ""):
        reply = (await client.request(enable(ALICE[0], pin))).message
        assert isinstance(reply, PatronEnableResponse)
        assert reply.patron_status.charge_privileges_denied, f"AD={pin!r}"
        if pin:
            assert reply.valid_patron_password is False
        row = await db_probe.patron(running.url, ALICE[0])
        assert (row["blocked"], row["block_source"]) == (True, source), f"AD={pin!r}"


async def test_a_kiosk_block_is_lifted_by_the_right_pin(running: Running) -> None:
    await grant_blocking(running)
    await block_alice(running, "kiosk")
    client = await running.logged_in()
    reply = (await client.request(enable(ALICE[0], ALICE[1]))).message
    assert isinstance(reply, PatronEnableResponse)
    assert reply.valid_patron_password is True
    assert not reply.patron_status.charge_privileges_denied
    assert (await db_probe.patron(running.url, ALICE[0]))["blocked"] is False


async def test_a_staff_block_is_not_lifted_from_a_kiosk(running: Running) -> None:
    """Even the card's owner with the right PIN: staff blocks are lifted by staff."""
    await grant_blocking(running)
    await block_alice(running, "staff")
    client = await running.logged_in()
    reply = (await client.request(enable(ALICE[0], ALICE[1]))).message
    assert isinstance(reply, PatronEnableResponse)
    assert reply.patron_status.charge_privileges_denied
    row = await db_probe.patron(running.url, ALICE[0])
    assert (row["blocked"], row["block_source"]) == (True, "staff")


# --- G: permissions say what they grant -------------------------------------------------------


async def test_item_status_permission_grants_19_and_not_01_or_25(running: Running) -> None:
    await db_probe.add_account(
        running.url,
        running.config,
        "status-kiosk",
        "status-pass",
        can_item_status=True,
        can_block_patron=False,
        can_enable_patron=False,
    )
    # BOB carries a kiosk block, so a permitted 25 with his PIN would lift it.
    await db_probe.update_patron(
        running.url, BOB[0], blocked=True, block_source="kiosk", block_reason="left in slot"
    )
    client = await running.client()
    assert await client.login("status-kiosk", "status-pass")

    announced = (await client.sc_status()).message
    assert isinstance(announced, ACSStatus)
    bx = announced.supported_messages
    assert (bx.item_status_update, bx.block_patron, bx.patron_enable) == (True, False, False)

    blocked = (await client.request(block(ALICE[0]))).message
    assert isinstance(blocked, PatronStatusResponse)
    assert blocked.screen_message == (NOT_AVAILABLE,)
    # Refused, but the patron is known: BL Y and the name (issue #15 item 14).
    assert blocked.valid_patron is True and blocked.personal_name == "Alice Archer"
    assert (await db_probe.patron(running.url, ALICE[0]))["blocked"] is False

    enabled = (await client.request(enable(BOB[0], BOB[1]))).message
    assert isinstance(enabled, PatronEnableResponse)
    assert enabled.screen_message == (NOT_AVAILABLE,)
    assert enabled.valid_patron is True and enabled.personal_name == "Bob Baker"
    assert (await db_probe.patron(running.url, BOB[0]))["blocked"] is True

    updated = (
        await client.request(
            ItemStatusUpdateRequest(
                transaction_date=now(), item_identifier=ITEMS[0], item_properties="torn page 12"
            )
        )
    ).message
    assert isinstance(updated, ItemStatusUpdateResponse) and updated.item_properties_ok is True
    assert await db_probe.item_properties(running.url, ITEMS[0]) == "torn page 12"


# --- H: failed logins are counted once -------------------------------------------------------


def login_failures(running: Running) -> float:
    """``sip2d_login_failures_total`` summed over its reasons, from the daemon's own registry."""
    total = 0.0
    for family in running.daemon.ctx.metrics.registry.collect():
        if family.name == "sip2d_login_failures":
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return total


async def login_reply(running: Running, request: LoginRequest) -> LoginResponse:
    """One 93 on a fresh connection (so the per-connection attempt limit never interferes)."""
    client = await running.client()
    try:
        reply = (await client.request(request)).message
    finally:
        await client.aclose()
    assert isinstance(reply, LoginResponse)
    return reply


async def test_each_refused_login_is_counted_exactly_once(running: Running) -> None:
    await db_probe.add_account(
        running.url, running.config, "retired-kiosk", "retired-pass", enabled=False
    )
    await db_probe.add_account(
        running.url,
        running.config,
        "remote-kiosk",
        "remote-pass",
        allowed_networks="10.0.0.0/8",
    )
    refused = {
        "wrong password": LoginRequest(login_user_id=KIOSK[0], login_password="not-it"),
        "unknown account": LoginRequest(login_user_id="no-such-kiosk", login_password="x"),
        "disabled account": LoginRequest(
            login_user_id="retired-kiosk", login_password="retired-pass"
        ),
        "address not allowed": LoginRequest(
            login_user_id="remote-kiosk", login_password="remote-pass"
        ),
        "encrypted password": LoginRequest(
            pwd_algorithm="1", login_user_id=KIOSK[0], login_password=KIOSK[1]
        ),
    }
    for why, request in refused.items():
        before = login_failures(running)
        reply = await login_reply(running, request)
        assert reply.ok is False, why
        assert login_failures(running) - before == 1, why
    before = login_failures(running)
    accepted = await login_reply(
        running, LoginRequest(login_user_id=KIOSK[0], login_password=KIOSK[1])
    )
    assert accepted.ok is True
    assert login_failures(running) == before


# --- I: the network allow-list ----------------------------------------------------------------


async def test_a_kiosk_account_logs_in_only_from_its_networks(running: Running) -> None:
    for login, networks in (("remote-kiosk", "10.0.0.0/8"), ("local-kiosk", "127.0.0.0/8")):
        await db_probe.add_account(
            running.url, running.config, login, "kiosk-pass", allowed_networks=networks
        )
    elsewhere = await login_reply(
        running, LoginRequest(login_user_id="remote-kiosk", login_password="kiosk-pass")
    )
    assert elsewhere.ok is False  # 940: the right password from the wrong network
    here = await login_reply(
        running, LoginRequest(login_user_id="local-kiosk", login_password="kiosk-pass")
    )
    assert here.ok is True
