"""The 99/98 keep-alive over TCP: built once per second and account, and still always right."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, update

from sip2d.protocol import ACSStatus, verify_checksum
from sip2d.server.context import ServerContext
from sip2d.storage.models import kiosk_accounts
from tests.server.conftest import KIOSK, Running
from tests.server.test_wire import with_trailer

FROZEN = datetime(2024, 3, 15, 14, 30, 25, 500_000, tzinfo=UTC)


def set_clock(ctx: ServerContext, clock: Callable[[], datetime]) -> None:
    """The daemon's injectable clock, put in force as a reload does (the wire clock with it)."""
    ctx.clock = clock
    ctx.apply(ctx.config)


async def status(client: object) -> ACSStatus:
    reply = (await client.sc_status()).message  # type: ignore[attr-defined]
    assert isinstance(reply, ACSStatus)
    return reply


async def test_98_date_advances_across_seconds(running: Running) -> None:
    now = FROZEN
    set_clock(running.daemon.ctx, lambda: now)
    client = await running.logged_in()
    first = (await status(client)).date_time_sync
    assert first is not None
    now = FROZEN + timedelta(seconds=1)
    later = (await status(client)).date_time_sync
    assert later is not None and later - first == timedelta(seconds=1)


async def test_each_98_mirrors_its_own_sequence_number(running: Running) -> None:
    set_clock(running.daemon.ctx, lambda: FROZEN)  # every 98 comes from one cache entry
    client = await running.logged_in()
    bodies = set()
    for sequence in (2, 3, 4, 0, 9):
        await client.send_raw(with_trailer("9900302.00", sequence))
        reply = await client.receive_frame()
        assert reply.startswith(b"98") and verify_checksum(reply)
        assert reply[-9:-4] == b"AY%dAZ" % sequence
        bodies.add(reply[:-9])
    assert len(bodies) == 1
    await client.send_raw(b"9900302.00\r")  # no trailer in, none out
    plain = await client.receive_frame()
    assert plain == next(iter(bodies)) and b"AZ" not in plain[-6:]


async def test_changed_account_and_database_health_change_the_98(running: Running) -> None:
    set_clock(running.daemon.ctx, lambda: FROZEN)  # all within one cached second
    before = await running.logged_in()
    allowed = await status(before)
    assert allowed.online_status and allowed.checkout_ok
    assert allowed.supported_messages.checkout  # type: ignore[union-attr]

    engine = create_engine(running.url)
    with engine.begin() as conn:
        conn.execute(
            update(kiosk_accounts)
            .where(kiosk_accounts.c.login == KIOSK[0])
            .values(can_checkout=False, location_code="BRANCH2")
        )
    engine.dispose()
    after = await running.logged_in()  # reads the changed account
    denied = await status(after)
    assert denied.online_status and not denied.checkout_ok
    assert not denied.supported_messages.checkout  # type: ignore[union-attr]
    assert denied.terminal_location == "BRANCH2"
    # The connection that logged in before keeps the account it logged in with.
    assert (await status(before)).checkout_ok

    running.daemon.ctx.health.failed(OSError("database gone"))
    offline = await status(after)
    assert not offline.online_status and not offline.checkin_ok and offline.timeout_period == 0
    running.daemon.ctx.health.succeeded()
    assert (await status(after)).online_status


async def test_98_before_login_on_a_listener_that_allows_it(running: Running) -> None:
    """An anonymous 99 and a logged-in 99 in the same second get their own answers."""
    set_clock(running.daemon.ctx, lambda: FROZEN)
    anonymous = await running.client()
    logged_in = await running.logged_in()
    first = await status(anonymous)
    assert (await status(logged_in)).checkout_ok
    again = await status(anonymous)
    assert not first.checkout_ok and again == first
