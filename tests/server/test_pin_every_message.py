"""Issue #14: a patron PIN (AD) sent with any request is checked before anything changes.

A kiosk that sends AD is asking the ACS to check it. Ignoring it on some message types made
them an oracle-free way around the PIN: a guessed card could renew, place or cancel holds,
pay, lift its own block or read the patron's loans, and a wrong guess was never counted
towards the lock. These tests send a wrong PIN with every message type that carries one, in
every ``session.checkout_pin`` mode that could be taken as a licence to skip it, and look in
the database afterwards: a refusal that still wrote something is not a refusal.

Each test gets its own daemon and database (both engines), because PIN failure counts and
locks are state that would leak from one case into the next.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import pytest
import trio
from click.testing import CliRunner

from sip2d.cli import main
from sip2d.client import SipClient
from sip2d.config import Config
from sip2d.protocol import (
    CheckoutRequest,
    CheckoutResponse,
    EndPatronSessionRequest,
    EndSessionResponse,
    FeePaidRequest,
    FeePaidResponse,
    HoldRequest,
    HoldResponse,
    Message,
    PatronEnableRequest,
    PatronEnableResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    RenewAllRequest,
    RenewAllResponse,
    RenewRequest,
    RenewResponse,
    Summary,
)
from tests.server import db_probe
from tests.server.conftest import (
    ALICE,
    BOB,
    FEE_ITEM,
    ITEMS,
    KIOSK,
    Running,
    make_config,
    seed,
    start,
)

WRONG_PIN = "9071"  # not ALICE's, and a PIN the policy would accept (so it looks real)
NEW_PIN = "6139"
# Items ALICE holds after setup_alice(): two loans, a rental (so she owes 1.50) and a hold.
LOANED = ITEMS[:2]
HELD_BY_ALICE = ITEMS[2]
FREE_ITEM = ITEMS[3]  # on the shelf: a checkout or hold on it would succeed
RENTAL_FEE = "1.50"
CheckoutPin = Literal["always", "session", "never"]


def now() -> datetime:
    return datetime.now().replace(microsecond=0)


def screen(reply: Message) -> str:
    """The first screen message (AF) of a response, or "" when it has none."""
    shown: tuple[str, ...] = getattr(reply, "screen_message", ())
    return shown[0] if shown else ""


# --- requests, each with the PIN as a parameter ------------------------------------------------


def checkout(
    item: str,
    pin: str | None,
    *,
    patron: str = ALICE[0],
    no_block: bool = False,
    fee_acknowledged: bool | None = None,
) -> CheckoutRequest:
    return CheckoutRequest(
        sc_renewal_policy=True,
        no_block=no_block,
        transaction_date=now(),
        patron_identifier=patron,
        item_identifier=item,
        patron_password=pin,
        fee_acknowledged=fee_acknowledged,
    )


def renew(pin: str) -> RenewRequest:
    return RenewRequest(
        transaction_date=now(),
        patron_identifier=ALICE[0],
        item_identifier=LOANED[0],
        patron_password=pin,
    )


def renew_all(pin: str) -> RenewAllRequest:
    return RenewAllRequest(transaction_date=now(), patron_identifier=ALICE[0], patron_password=pin)


def hold(mode: str, item: str, pin: str) -> HoldRequest:
    return HoldRequest(
        hold_mode=mode,
        transaction_date=now(),
        patron_identifier=ALICE[0],
        item_identifier=item,
        patron_password=pin,
    )


def enable(pin: str) -> PatronEnableRequest:
    return PatronEnableRequest(
        transaction_date=now(), patron_identifier=ALICE[0], patron_password=pin
    )


def information(pin: str) -> PatronInformationRequest:
    # Asks for the charged-items list: ALICE has loans, so a leak would be visible.
    return PatronInformationRequest(
        transaction_date=now(),
        summary=Summary(charged_items=True),
        patron_identifier=ALICE[0],
        patron_password=pin,
    )


def status(pin: str) -> PatronStatusRequest:
    return PatronStatusRequest(
        transaction_date=now(), patron_identifier=ALICE[0], patron_password=pin
    )


def fee_paid(pin: str) -> FeePaidRequest:
    return FeePaidRequest(
        transaction_date=now(),
        fee_type="06",
        fee_amount=RENTAL_FEE,
        patron_identifier=ALICE[0],
        patron_password=pin,
        transaction_id="KIOSK-TXN-1",
    )


# --- what a refusal for a wrong PIN looks like, per response type -----------------------------


def refused_circulation(
    cls: type[CheckoutResponse] | type[RenewResponse],
) -> Callable[[Message], None]:
    def check(reply: Message) -> None:
        assert isinstance(reply, cls)
        assert reply.ok is False and reply.due_date == ""

    return check


def refused_renew_all(reply: Message) -> None:
    assert isinstance(reply, RenewAllResponse)
    assert reply.ok is False and reply.renewed_items == ()


def refused_hold(reply: Message) -> None:
    assert isinstance(reply, HoldResponse)
    assert reply.ok is False


def enable_refused(reply: Message) -> None:
    assert isinstance(reply, PatronEnableResponse)
    assert reply.valid_patron_password is False
    assert reply.patron_status.charge_privileges_denied  # still blocked


def information_withheld(reply: Message) -> None:
    assert isinstance(reply, PatronInformationResponse)
    assert reply.valid_patron_password is False
    lists = {
        "hold": reply.hold_items,
        "overdue": reply.overdue_items,
        "charged": reply.charged_items,
        "fine": reply.fine_items,
        "recall": reply.recall_items,
        "unavailable": reply.unavailable_hold_items,
    }
    assert {name: found for name, found in lists.items() if found} == {}
    contact = (reply.home_address, reply.email_address, reply.home_phone_number)
    assert contact == (None, None, None)


def status_refused(reply: Message) -> None:
    assert isinstance(reply, PatronStatusResponse)
    assert reply.valid_patron_password is False


def payment_refused(reply: Message) -> None:
    assert isinstance(reply, FeePaidResponse)
    assert reply.payment_accepted is False


@dataclass(frozen=True)
class WrongPinCase:
    """One request that would change or reveal something for ALICE with her right PIN."""

    label: str
    request: Callable[[str], Message]
    check: Callable[[Message], None]
    # 25 needs something to lift: ALICE is blocked by a kiosk (the kind a kiosk may lift).
    kiosk_blocked: bool = False


CASES = [
    WrongPinCase(
        "11 checkout", lambda pin: checkout(FREE_ITEM, pin), refused_circulation(CheckoutResponse)
    ),
    WrongPinCase("29 renew", renew, refused_circulation(RenewResponse)),
    WrongPinCase("65 renew all", renew_all, refused_renew_all),
    WrongPinCase("15 place hold", lambda pin: hold("+", FREE_ITEM, pin), refused_hold),
    WrongPinCase("15 cancel hold", lambda pin: hold("-", HELD_BY_ALICE, pin), refused_hold),
    WrongPinCase("25 patron enable", enable, enable_refused, kiosk_blocked=True),
    WrongPinCase("63 patron information", information, information_withheld),
    WrongPinCase("23 patron status", status, status_refused),
    WrongPinCase("37 fee paid", fee_paid, payment_refused),
]
# checkout_pin governs when circulation *needs* a PIN; it never licenses ignoring one that was
# sent. "never" is the mode most tempting to short-cut, so every message runs in it as well as
# in the default; the circulation messages, which the setting is about, also run in "always".
CIRCULATION = {"11 checkout", "29 renew", "65 renew all", "15 place hold", "15 cancel hold"}
MATRIX = [
    pytest.param(case, mode, id=f"{case.label}-{mode}")
    for mode in ("session", "never", "always")
    for case in CASES
    if mode != "always" or case.label in CIRCULATION
]


@pytest.fixture
def checkout_pin() -> CheckoutPin:
    """The ``session.checkout_pin`` mode of ``server``; tests parametrize it to change it."""
    return "session"


@pytest.fixture
async def server(
    nursery: trio.Nursery, tmp_path: Path, database_url: str, checkout_pin: CheckoutPin
) -> AsyncIterator[Running]:
    config = make_config(tmp_path, database_url)
    session = dataclasses.replace(config.session, checkout_pin=checkout_pin)
    config = dataclasses.replace(config, session=session)
    seed(config)
    running = await start(nursery, config)
    yield running
    running.daemon.stop()


async def setup_alice(server: Running) -> None:
    """Give ALICE loans, a fee and a hold, with her right PIN, on a connection of their own.

    The connection is closed afterwards so the request under test starts from a kiosk that has
    verified nothing (no session cache to answer for it).
    """
    client = await server.logged_in()
    try:
        for item in LOANED:
            assert (await client.request(checkout(item, ALICE[1]))).message.ok  # type: ignore[attr-defined]
        rental = checkout(FEE_ITEM, ALICE[1], fee_acknowledged=True)
        assert (await client.request(rental)).message.ok  # type: ignore[attr-defined]
        placed = (await client.request(hold("+", HELD_BY_ALICE, ALICE[1]))).message
        assert isinstance(placed, HoldResponse) and placed.ok, screen(placed)
    finally:
        await client.aclose()


@pytest.mark.parametrize(("case", "checkout_pin"), MATRIX)
async def test_a_wrong_pin_is_refused_counted_and_changes_nothing(
    server: Running, case: WrongPinCase
) -> None:
    await setup_alice(server)
    if case.kiosk_blocked:
        await db_probe.update_patron(
            server.url, ALICE[0], blocked=True, block_source="kiosk", block_reason="left in slot"
        )
        # Granted so that a refusal can only be about the PIN, not about the terminal.
        await db_probe.update_account(server.url, KIOSK[0], can_enable_patron=True)
    before = await db_probe.snapshot(server.url)
    assert (await db_probe.patron(server.url, ALICE[0]))["pin_failures"] == 0

    client = await server.logged_in()
    reply = (await client.request(case.request(WRONG_PIN))).message

    case.check(reply)
    assert screen(reply).startswith("Invalid PIN"), screen(reply)
    after = await db_probe.snapshot(server.url)
    assert db_probe.changes(before, after) == {}
    assert (await db_probe.patron(server.url, ALICE[0]))["pin_failures"] == 1


async def test_five_wrong_pins_on_different_messages_lock_the_card(server: Running) -> None:
    """The lock counts guesses, whichever message carried them."""
    await setup_alice(server)
    client = await server.logged_in()
    guesses = [
        status(WRONG_PIN),
        checkout(FREE_ITEM, WRONG_PIN),
        hold("+", FREE_ITEM, WRONG_PIN),
        fee_paid(WRONG_PIN),
        information(WRONG_PIN),
    ]
    for guess in guesses:
        reply = (await client.request(guess)).message
        assert screen(reply).startswith("Invalid PIN"), (type(guess).__name__, screen(reply))
    row = await db_probe.patron(server.url, ALICE[0])
    assert row["pin_failures"] == 5 and row["pin_locked_until"] is not None

    sixth = (await client.request(checkout(FREE_ITEM, ALICE[1]))).message
    assert isinstance(sixth, CheckoutResponse) and sixth.ok is False
    assert screen(sixth).startswith("PIN locked"), screen(sixth)
    assert await db_probe.loans_of(server.url, item=FREE_ITEM) == []


async def test_end_patron_session_with_a_wrong_pin_still_ends_the_session(
    server: Running,
) -> None:
    """35 releases state, so it may ignore AD; what it must not do is keep the session alive."""
    client = await server.logged_in()
    verified = (await client.request(status(ALICE[1]))).message
    assert isinstance(verified, PatronStatusResponse) and verified.valid_patron_password is True
    first = (await client.request(checkout(ITEMS[0], None))).message
    assert isinstance(first, CheckoutResponse) and first.ok is True  # the session knows her

    ended = (
        await client.request(
            EndPatronSessionRequest(
                transaction_date=now(), patron_identifier=ALICE[0], patron_password=WRONG_PIN
            )
        )
    ).message
    assert isinstance(ended, EndSessionResponse) and ended.end_session is True

    after = (await client.request(checkout(ITEMS[1], None))).message
    assert isinstance(after, CheckoutResponse) and after.ok is False
    assert "PIN" in screen(after), screen(after)
    assert [loan.item for loan in await db_probe.loans_of(server.url, patron=ALICE[0])] == [
        ITEMS[0]
    ]


# --- off-line (no block = Y) transactions -----------------------------------------------------


async def test_offline_checkout_from_a_kiosk_without_the_permission_checks_the_pin(
    server: Running,
) -> None:
    await db_probe.update_account(server.url, KIOSK[0], can_offline=False)
    client = await server.logged_in()
    reply = (await client.request(checkout(ITEMS[0], WRONG_PIN, no_block=True))).message
    assert isinstance(reply, CheckoutResponse) and reply.ok is False
    assert await db_probe.loans_of(server.url, item=ITEMS[0]) == []


async def test_offline_checkout_from_a_kiosk_without_the_permission_leaves_the_loan_alone(
    server: Running,
) -> None:
    """Without ``can_offline``, no block = Y cannot make the kiosk's record win over ours."""
    await db_probe.update_account(server.url, KIOSK[0], can_offline=False)
    client = await server.logged_in()
    lent = (await client.request(checkout(ITEMS[1], BOB[1], patron=BOB[0]))).message
    assert isinstance(lent, CheckoutResponse) and lent.ok is True
    reply = (await client.request(checkout(ITEMS[1], ALICE[1], no_block=True))).message
    assert isinstance(reply, CheckoutResponse) and reply.ok is False
    assert await db_probe.loans_of(server.url, item=ITEMS[1]) == [
        db_probe.LoanRow(ITEMS[1], BOB[0], returned=False, offline=False, renewals=0)
    ]


async def test_offline_permission_does_not_excuse_a_wrong_pin(server: Running) -> None:
    await db_probe.add_account(
        server.url, server.config, "offline-kiosk", "offline-pass", can_offline=True
    )
    client = await server.client()
    assert await client.login("offline-kiosk", "offline-pass")
    refused = (await client.request(checkout(ITEMS[0], WRONG_PIN, no_block=True))).message
    assert isinstance(refused, CheckoutResponse) and refused.ok is False
    assert screen(refused).startswith("Invalid PIN"), screen(refused)
    assert await db_probe.loans_of(server.url, item=ITEMS[0]) == []
    assert (await db_probe.patron(server.url, ALICE[0]))["pin_failures"] == 1
    # The permission is real: with her PIN the off-line checkout is recorded as one.
    accepted = (await client.request(checkout(ITEMS[0], ALICE[1], no_block=True))).message
    assert isinstance(accepted, CheckoutResponse) and accepted.ok is True, screen(accepted)
    assert await db_probe.loans_of(server.url, item=ITEMS[0]) == [
        db_probe.LoanRow(ITEMS[0], ALICE[0], returned=False, offline=True, renewals=0)
    ]


# --- a PIN change ends what a connection remembers --------------------------------------------

CLEAN_ENV = {"SIP2D_DATABASE_URL": None, "SIP2D_CONFIG": None, "SIP2D_PEPPER": None}


def set_pin_as_staff(config: Config, directory: Path, barcode: str, pin: str) -> None:
    """Run ``sip2d patron set-pin --pin-stdin`` against the daemon's database and pepper."""
    argon2 = config.auth.argon2
    staff_config = directory / "staff.toml"
    staff_config.write_text(
        f"[database]\nurl = {config.database.url!r}\npool_size = 1\n\n"
        f"[auth]\npepper_file = {config.auth.pepper_file!r}\n\n"
        f"[auth.argon2]\nmemory_kib = {argon2.memory_kib}\ntime_cost = {argon2.time_cost}\n"
        f"parallelism = {argon2.parallelism}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main,
        ["--config", str(staff_config), "patron", "set-pin", barcode, "--pin-stdin"],
        input=pin + "\n",
        env=CLEAN_ENV,
    )
    assert result.exit_code == 0, result.output


async def test_a_pin_change_ends_what_the_connection_remembers(
    server: Running, tmp_path: Path
) -> None:
    client: SipClient = await server.logged_in()
    verified = (await client.request(status(ALICE[1]))).message
    assert isinstance(verified, PatronStatusResponse) and verified.valid_patron_password is True

    await trio.to_thread.run_sync(set_pin_as_staff, server.config, tmp_path, ALICE[0], NEW_PIN)

    # Session mode would lend without AD to a patron verified on this connection; not any more.
    unasked = (await client.request(checkout(ITEMS[0], None))).message
    assert isinstance(unasked, CheckoutResponse) and unasked.ok is False
    assert "PIN" in screen(unasked), screen(unasked)
    assert await db_probe.loans_of(server.url, item=ITEMS[0]) == []

    old = (await client.request(status(ALICE[1]))).message
    assert isinstance(old, PatronStatusResponse) and old.valid_patron_password is False

    new = (await client.request(status(NEW_PIN))).message
    assert isinstance(new, PatronStatusResponse) and new.valid_patron_password is True
    lent = (await client.request(checkout(ITEMS[0], None))).message
    assert isinstance(lent, CheckoutResponse) and lent.ok is True, screen(lent)
