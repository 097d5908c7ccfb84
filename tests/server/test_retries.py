"""Transactions a kiosk sends again on a new connection, or to another daemon on the same
database, are answered as the first time and applied once (issue #15 item 5).

Each test sends over real sockets to real daemons, then reads the tables: a retry that was
answered well but booked twice would pass a test that only looked at responses.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import trio
from sqlalchemy import Connection, create_engine, func, select

from sip2d.client import SipClient
from sip2d.protocol import (
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    FeePaidRequest,
    FeePaidResponse,
    Message,
    RenewRequest,
    RenewResponse,
    decode,
)
from sip2d.storage.models import payments
from tests.server import db_probe
from tests.server.attack_tools import serving
from tests.server.conftest import ALICE, FINED, ITEMS, KIOSK, Running, make_config, seed

WHEN = datetime.now().replace(microsecond=0)


def payment(amount: str = "2.00", when: datetime = WHEN, **extra: object) -> FeePaidRequest:
    fields: dict[str, object] = {
        "transaction_date": when,
        "fee_type": "04",
        "payment_type": "00",
        "currency_type": "USD",
        "fee_amount": amount,
        "institution_id": "MAIN",
        "patron_identifier": FINED,
    }
    fields.update(extra)
    return FeePaidRequest(**fields)  # type: ignore[arg-type]


def checkout(
    item: str = ITEMS[0],
    when: datetime = WHEN,
    renewal_policy: bool = True,
    pin: str | None = ALICE[1],
) -> CheckoutRequest:
    return CheckoutRequest(
        sc_renewal_policy=renewal_policy,
        no_block=False,
        transaction_date=when,
        nb_due_date=None,
        institution_id="MAIN",
        patron_identifier=ALICE[0],
        item_identifier=item,
        terminal_password="",
        patron_password=pin,
    )


def checkin(item: str = ITEMS[0], when: datetime = WHEN) -> CheckinRequest:
    return CheckinRequest(
        no_block=False,
        transaction_date=when,
        return_date=when,
        current_location="BRANCH1",
        institution_id="MAIN",
        item_identifier=item,
    )


def same_answer(first: Message, again: Message) -> None:
    """A retry gets the original response, field for field (its date included)."""
    assert type(again) is type(first)
    assert again == first


async def payments_of(url: str) -> int:
    def count(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(payments)).scalar_one())

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return await trio.to_thread.run_sync(count, conn)
    finally:
        engine.dispose()


async def send_on_new_connection(running: Running, message: Message) -> Message:
    """Log in afresh and send ``message``: what a kiosk does after a timeout."""
    client = await running.logged_in()
    try:
        return (await client.request(message)).message
    finally:
        await client.aclose()


async def test_fee_paid_without_bk_retried_on_a_new_connection_is_paid_once(
    running: Running,
) -> None:
    first = await send_on_new_connection(running, payment())
    assert isinstance(first, FeePaidResponse) and first.payment_accepted
    again = await send_on_new_connection(running, payment())
    same_answer(first, again)
    # A kiosk that rebuilds the request puts a new transaction date in it.
    rebuilt = await send_on_new_connection(running, payment(when=WHEN + timedelta(seconds=20)))
    same_answer(first, rebuilt)
    assert (await db_probe.patron(running.url, FINED))["fine_balance_cents"] == 2300
    assert await payments_of(running.url) == 1
    # Different terms are a different payment, and a date outside the window a new one.
    other = await send_on_new_connection(running, payment("3.00"))
    assert isinstance(other, FeePaidResponse) and other.payment_accepted
    later = await send_on_new_connection(running, payment(when=WHEN + timedelta(minutes=10)))
    assert isinstance(later, FeePaidResponse) and later.payment_accepted
    assert (await db_probe.patron(running.url, FINED))["fine_balance_cents"] == 1800
    assert await payments_of(running.url) == 3


async def test_a_refused_payment_is_judged_afresh(running: Running) -> None:
    """Refusals are not kept: the same request may succeed once what stopped it is gone."""
    refused = await send_on_new_connection(running, payment("30.00"))
    assert isinstance(refused, FeePaidResponse) and not refused.payment_accepted
    assert await payments_of(running.url) == 0


async def test_checkout_retried_on_a_new_connection_is_not_a_renewal(running: Running) -> None:
    first = await send_on_new_connection(running, checkout())
    assert isinstance(first, CheckoutResponse) and first.ok and not first.renewal_ok
    again = await send_on_new_connection(running, checkout())
    same_answer(first, again)
    # With renewal policy N the retry is not refused although the loan exists.
    strict = await send_on_new_connection(running, checkout(renewal_policy=False))
    same_answer(first, strict)
    rebuilt = await send_on_new_connection(running, checkout(when=WHEN + timedelta(seconds=30)))
    same_answer(first, rebuilt)
    loans = await db_probe.loans_of(running.url, item=ITEMS[0])
    assert [(loan.returned, loan.renewals) for loan in loans] == [(False, 0)]


async def test_a_checkout_after_the_item_came_back_is_a_new_loan(running: Running) -> None:
    """What the original did must still stand: returned and borrowed again is two loans."""
    first = await send_on_new_connection(running, checkout())
    assert isinstance(first, CheckoutResponse) and first.ok
    back = await send_on_new_connection(running, checkin(when=WHEN + timedelta(seconds=5)))
    assert isinstance(back, CheckinResponse) and back.ok
    again = await send_on_new_connection(running, checkout(when=WHEN + timedelta(seconds=10)))
    assert isinstance(again, CheckoutResponse) and again.ok
    loans = await db_probe.loans_of(running.url, item=ITEMS[0])
    assert [loan.returned for loan in loans] == [True, False]


async def test_checkin_retried_on_a_new_connection_is_answered_as_the_first(
    running: Running,
) -> None:
    assert (await send_on_new_connection(running, checkout(ITEMS[1]))).ok  # type: ignore[attr-defined]
    first = await send_on_new_connection(running, checkin(ITEMS[1]))
    assert isinstance(first, CheckinResponse) and first.ok
    assert first.patron_identifier == ALICE[0]
    # Executed again it would say "not checked out" (ok=0); as a retry it is the first answer.
    again = await send_on_new_connection(running, checkin(ITEMS[1]))
    same_answer(first, again)


async def test_renew_retried_on_a_new_connection_adds_one_period(running: Running) -> None:
    assert (await send_on_new_connection(running, checkout(ITEMS[2]))).ok  # type: ignore[attr-defined]
    renew = RenewRequest(
        transaction_date=WHEN + timedelta(seconds=1),
        institution_id="MAIN",
        patron_identifier=ALICE[0],
        item_identifier=ITEMS[2],
        patron_password=ALICE[1],
    )
    first = await send_on_new_connection(running, renew)
    assert isinstance(first, RenewResponse) and first.ok
    same_answer(first, await send_on_new_connection(running, renew))
    loans = await db_probe.loans_of(running.url, item=ITEMS[2])
    assert [loan.renewals for loan in loans] == [1]


async def _retry_race(daemons: list[Running], message: Message, copies: int) -> list[Message]:
    """``copies`` logged-in kiosks, spread over the daemons, send ``message`` at one instant."""
    clients: list[SipClient] = []
    for number in range(copies):
        client = await daemons[number % len(daemons)].client()
        assert await client.login(*KIOSK)
        clients.append(client)
    answers: list[Message] = []
    go = trio.Event()

    async def send(client: SipClient) -> None:
        frame = client.encode(message)
        await go.wait()
        await client.send_raw(frame)
        answers.append(decode(await client.receive_frame()).message)

    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(send, client)
        await trio.sleep(0.1)
        go.set()
    for client in clients:
        await client.aclose()
    return answers


async def test_simultaneous_retries_on_two_daemons_apply_once(
    nursery: trio.Nursery, tmp_path: Path, database_url: str
) -> None:
    """Copies of one payment and one checkout arrive at once on two daemons sharing one
    database (on PostgreSQL: two daemons, one schema): exactly one of each is applied, and
    every copy gets the same answer.

    The checkout carries no PIN (``checkout_pin = "never"``): six copies of one right PIN at
    one instant are a burst the PIN gate refuses by design, which is not what this tests.
    """
    config = make_config(tmp_path, database_url)
    config = dataclasses.replace(
        config, session=dataclasses.replace(config.session, checkout_pin="never")
    )
    seed(config)
    async with serving(nursery, config, count=2) as daemons:
        paid = await _retry_race(daemons, payment("4.00"), copies=6)
        lent = await _retry_race(
            daemons, checkout(ITEMS[3], renewal_policy=False, pin=None), copies=6
        )
    assert all(isinstance(m, FeePaidResponse) and m.payment_accepted for m in paid)
    assert len({m.transaction_id for m in paid}) == 1  # type: ignore[attr-defined]
    assert all(isinstance(m, CheckoutResponse) and m.ok and not m.renewal_ok for m in lent)
    assert len({m.due_date for m in lent}) == 1  # type: ignore[attr-defined]
    assert (await db_probe.patron(database_url, FINED))["fine_balance_cents"] == 2100
    assert await payments_of(database_url) == 1
    loans = await db_probe.loans_of(database_url, item=ITEMS[3])
    assert [(loan.returned, loan.renewals) for loan in loans] == [(False, 0)]


async def test_a_pinless_checkout_of_a_patron_session_retried_elsewhere_is_answered(
    running: Running,
) -> None:
    """``checkout_pin = "session"``: the kiosk verified the PIN once (63), then sent 11s with
    no AD. Its retry on a new connection, where no PIN was verified, gets the original answer;
    a new PIN-less checkout there is still refused, and a wrong PIN always is."""
    kiosk = await running.logged_in()
    assert (await kiosk.patron_information(ALICE[0], ALICE[1])).message.valid_patron_password  # type: ignore[attr-defined]
    first = (await kiosk.request(checkout(ITEMS[4], pin=None))).message
    assert isinstance(first, CheckoutResponse) and first.ok
    same_answer(first, await send_on_new_connection(running, checkout(ITEMS[4], pin=None)))
    other = await send_on_new_connection(running, checkout(ITEMS[0], pin=None))
    assert isinstance(other, CheckoutResponse) and not other.ok
    assert other.screen_message == ("Please enter your PIN.",)
    wrong = await send_on_new_connection(running, checkout(ITEMS[4], pin="0000"))
    assert isinstance(wrong, CheckoutResponse) and not wrong.ok
    assert await db_probe.loans_of(running.url, item=ITEMS[0]) == []
    assert [loan.renewals for loan in await db_probe.loans_of(running.url, item=ITEMS[4])] == [0]


async def test_transactions_dated_at_the_ends_of_the_calendar_are_answered(
    running: Running,
) -> None:
    """The window around a transaction date of year 1 or 9999 is clamped, not overflowed."""
    for when in (datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)):
        paid = await send_on_new_connection(running, payment("1.00", when=when))
        assert isinstance(paid, FeePaidResponse) and paid.payment_accepted
        same_answer(paid, await send_on_new_connection(running, payment("1.00", when=when)))
    assert await payments_of(running.url) == 2
