"""Database outages (issue #15 item 8): on line again from the first success, and logged as a
start, a few summaries and an end rather than one ERROR line per refused request.

The outage is real: the daemon reaches PostgreSQL through a TCP proxy that the test cuts (every
connection dropped, new ones refused) and later restores on the same port.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import trio
from sqlalchemy.engine import make_url

from sip2d.client import ClientError, SipClient
from sip2d.config import ListenerConfig
from sip2d.protocol import ACSStatus, CheckoutResponse, PatronStatusResponse
from sip2d.server.health import DatabaseHealth
from tests.auth.secret_scan import assert_secret_absent
from tests.server.conftest import ALICE, BOB, ITEMS, KIOSK, make_config, seed, start
from tests.server.robust_tools import assert_no_traceback, count_level, log_entries
from tests.server.test_logs import captured_log
from tests.server.test_robustness import CuttableProxy


async def test_outage_is_logged_once_and_ends_at_the_first_success(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    seed(make_config(tmp_path, postgres_url))
    proxy = CuttableProxy(make_url(postgres_url).port or 5432)
    await nursery.start(proxy.run)
    via_proxy = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    # No health checks after the first: only requests can notice the outage and its end.
    config = make_config(tmp_path, via_proxy, health_check_interval=3600.0, outage_log_interval=0.5)
    # A second port whose connections act as the kiosk account without a 93.
    config = dataclasses.replace(
        config,
        listeners=[*config.listeners, ListenerConfig("127.0.0.1:0", login_account=KIOSK[0])],
    )
    running = await start(nursery, config)
    kiosks = [await running.logged_in() for _ in range(3)]
    assert (await kiosks[0].patron_status(*ALICE)).message.valid_patron  # type: ignore[attr-defined]

    with captured_log(logging.INFO) as log:
        proxy.cut()
        refused = 0
        until = trio.current_time() + 2.0  # two seconds of kiosks retrying against it
        while trio.current_time() < until:
            for kiosk in kiosks:
                reply = (await kiosk.patron_status(*BOB)).message
                assert isinstance(reply, PatronStatusResponse)
                assert "not available" in reply.screen_message[0]
                refused += 1
        status = (await kiosks[1].sc_status()).message
        assert isinstance(status, ACSStatus) and status.online_status is False
        # A connection that cannot be bound to its account is closed, not left half-made.
        unbound = await SipClient.connect(*running.daemon.addresses[1])
        with pytest.raises((ClientError, trio.BrokenResourceError)):
            await unbound.sc_status()
        refused += 1  # the lookup of its account failed too

        await nursery.start(proxy.run)  # the database is back, on the same port
        checkout = (await kiosks[0].checkout(ALICE[0], ITEMS[0], ALICE[1])).message
        assert isinstance(checkout, CheckoutResponse) and checkout.ok is True
        # The very next 98, on another connection, says on line: no health check needed.
        status = (await kiosks[2].sc_status()).message
        assert isinstance(status, ACSStatus) and status.online_status is True

    text = log.getvalue()
    entries = log_entries(text)
    assert refused > 20
    errors = [e for e in entries if e["level"] == "error"]
    assert len(errors) == 1 and errors[0]["event"] == "database unavailable"
    assert errors[0]["error"].startswith("OperationalError: ")  # the driver's own words
    summaries = [e for e in entries if e["event"] == "database still unavailable"]
    # At most one per interval (two seconds, half-second interval), each with its count.
    assert 1 <= len(summaries) <= 5
    assert all(e["level"] == "warning" and e["failures"] > 0 for e in summaries)
    ends = [e for e in entries if e["event"] == "database available again"]
    assert len(ends) == 1
    assert ends[0]["failures"] == refused and ends[0]["outage_seconds"] >= 2.0
    assert count_level(text, "error") == 1
    reasons = [e["reason"] for e in entries if e["event"] == "disconnect"]
    assert reasons == ["database unavailable"]
    assert_no_traceback(text)
    assert_secret_absent(ALICE[1], text)
    assert_secret_absent(KIOSK[1], text)
    running.daemon.stop()


def test_outage_log_with_a_steady_clock() -> None:
    """A 100 s outage with a failure every 0.1 s: one start, one summary per 30 s, one end."""
    now = [0.0]
    changes: list[bool] = []
    health = DatabaseHealth(summary_interval=30.0, clock=lambda: now[0], on_change=changes.append)
    with captured_log(logging.INFO) as log:
        for tick in range(1001):
            now[0] = tick / 10
            health.failed(OSError("connection refused"))
        now[0] = 100.5
        health.succeeded()
        health.succeeded()  # already on line: nothing more to say
    entries = log_entries(log.getvalue())
    assert [(e["level"], e["event"]) for e in entries] == [
        ("error", "database unavailable"),
        ("warning", "database still unavailable"),
        ("warning", "database still unavailable"),
        ("warning", "database still unavailable"),
        ("info", "database available again"),
    ]
    assert entries[0]["error"] == "OSError: connection refused"
    assert [e["failures"] for e in entries[1:4]] == [300, 300, 300]
    assert entries[4]["failures"] == 1001 and entries[4]["outage_seconds"] == 100.5
    assert changes == [False, True]
