"""Two daemons on one PostgreSQL database: how sip2d grows past one process or machine.

All state (loans, throttles, sessions' effects) is in the database, so two ``sip2d serve``
processes on one database must behave like one: kiosks racing for the same item through
different daemons get exactly one loan, and racing check-ins return it exactly once. Each
daemon here has its own engine, runner and database threads, as separate processes would.
``--reuse-port`` lets both listen on one address, with the kernel dealing the connections.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from sip2d.bench.dataset import item_barcode, patron_barcode, patron_pin
from sip2d.client import ClientError, SipClient
from sip2d.config import Config, ConfigError, ListenerConfig, load_config
from sip2d.protocol import CheckinResponse, CheckoutResponse, PatronStatusResponse
from sip2d.server.daemon import open_listeners
from tests.bench.conftest import LOGIN, cli, write_config
from tests.server.conftest import ALICE, BOB, ITEMS, KIOSK, Running, make_config, seed, start
from tests.server.db_probe import loans_of


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(port: int) -> None:
    for _ in range(600):
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            await trio.sleep(0.05)
            continue
        await stream.aclose()
        return
    raise AssertionError(f"nothing listening on {port}")


def logged_listening(process: subprocess.Popen[bytes]) -> bool:
    """Read the daemon's log until it reports its listener (True) or exits (False)."""
    assert process.stderr is not None
    return any(b"listening" in line for line in process.stderr)


def listening_on(config: Config, address: str, *, reuse_port: bool) -> Config:
    return dataclasses.replace(
        config, listeners=[ListenerConfig(address=address, reuse_port=reuse_port)]
    )


async def logged_in(server: Running) -> SipClient:
    client = await server.client()
    assert await client.login(*KIOSK)
    return client


async def test_racing_checkouts_and_checkins_through_two_daemons(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    config = make_config(tmp_path, postgres_url)
    seed(config)
    first, second = await start(nursery, config), await start(nursery, config)
    assert first.port != second.port
    # Per item: Alice and Bob each try through both daemons at once (four kiosks).
    attempts = [
        (server, patron, item)
        for item in ITEMS
        for server in (first, second)
        for patron in (ALICE, BOB)
    ]
    clients = [await logged_in(server) for server, _, _ in attempts]
    # Each kiosk's patron presents the PIN once, one kiosk at a time, so the race is about
    # the item alone: the PIN gate charges a check in flight as a failure until it is
    # verified, and ten checks of one card at once would lock the card (as guessing would).
    for client, (_, patron, _) in zip(clients, attempts, strict=True):
        status = (await client.patron_status(patron[0], patron[1])).message
        assert isinstance(status, PatronStatusResponse) and status.valid_patron_password
    granted: list[tuple[str, str]] = []

    async def checkout(client: SipClient, patron: tuple[str, str], item: str) -> None:
        reply = (await client.checkout(patron[0], item, patron[1])).message
        assert isinstance(reply, CheckoutResponse)
        if reply.ok:
            granted.append((item, patron[0]))

    async with trio.open_nursery() as racing:
        for client, (_, patron, item) in zip(clients, attempts, strict=True):
            racing.start_soon(checkout, client, patron, item)

    for item in ITEMS:
        loans = await loans_of(first.url, item=item)
        # One loan per item, whoever won; only its holder was told yes (a repeat by the same
        # patron through the other daemon is a renewal of that loan, not a second loan).
        assert len(loans) == 1 and not loans[0].returned, loans
        assert {patron for found, patron in granted if found == item} == {loans[0].patron}

    returned: list[str] = []

    async def checkin(client: SipClient, item: str) -> None:
        reply = (await client.checkin(item, location="BRANCH1")).message
        assert isinstance(reply, CheckinResponse)
        if reply.ok and reply.patron_identifier:
            returned.append(item)

    async with trio.open_nursery() as racing:
        for n, item in enumerate(ITEMS):
            # The same item returned at two kiosks on two daemons at once.
            racing.start_soon(checkin, clients[4 * n], item)
            racing.start_soon(checkin, clients[4 * n + 1 + (n % 2)], item)

    for item in ITEMS:
        loans = await loans_of(first.url, item=item)
        assert len(loans) == 1 and loans[0].returned, loans
    # Each loan was closed once (above). Both check-ins come from one kiosk account at once, so
    # the later is recognised as a retry of the first (docs/retries-and-wire.md) and told the
    # same: every item was answered as returned, none twice closed.
    assert sorted(set(returned)) == sorted(ITEMS)
    for client in clients:
        await client.aclose()
    first.daemon.stop()
    second.daemon.stop()


async def test_two_daemons_share_one_port_with_reuse_port(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    base = make_config(tmp_path, postgres_url)
    seed(base)
    first = await start(nursery, listening_on(base, "127.0.0.1:0", reuse_port=True))
    shared = f"127.0.0.1:{first.port}"
    second = await start(nursery, listening_on(base, shared, reuse_port=True))
    assert second.port == first.port
    # The kernel deals connections by a hash of their addresses: with 24 connections, both
    # daemons get some (all on one would be a 1 in 8 million chance).
    clients = [await logged_in(first) for _ in range(24)]
    assert first.daemon.ctx.connections and second.daemon.ctx.connections
    served = len(first.daemon.ctx.connections) + len(second.daemon.ctx.connections)
    assert served == len(clients)
    # Both answer from the same database: a loan made through one is seen through the other.
    out = (await clients[0].checkout(ALICE[0], ITEMS[0], ALICE[1])).message
    assert isinstance(out, CheckoutResponse) and out.ok
    for client in clients[1:]:
        again = (await client.checkout(BOB[0], ITEMS[0], BOB[1])).message
        assert isinstance(again, CheckoutResponse) and not again.ok
    assert len(await loans_of(first.url, item=ITEMS[0])) == 1
    for client in clients:
        await client.aclose()
    first.daemon.stop()
    second.daemon.stop()


async def test_a_taken_port_without_reuse_port_is_refused(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    """Without the option on both, the second daemon cannot take the port (as before)."""
    base = make_config(tmp_path, postgres_url)
    seed(base)
    first = await start(nursery, listening_on(base, "127.0.0.1:0", reuse_port=True))
    taken = listening_on(base, f"127.0.0.1:{first.port}", reuse_port=False)
    with pytest.raises(ConfigError, match="cannot listen"):
        await open_listeners(taken)
    first.daemon.stop()


async def test_a_daemon_killed_mid_checkouts_loses_no_acknowledged_loan(
    nursery: trio.Nursery, tmp_path: Path, postgres_url: str
) -> None:
    """SIGKILL one of two daemons while kiosks on both check items out.

    Every checkout a kiosk was told succeeded is a loan in the database afterwards, whichever
    daemon answered; the ones in flight when the process died either committed or left nothing
    (PostgreSQL rolls back a dead session's transaction); no item is ever on loan twice; and the
    surviving daemon goes on lending, including the dead daemon's items.
    """
    config_path = write_config(tmp_path, postgres_url)
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    patrons, lent = 8, 12  # patron k borrows items k, k+8, k+16...
    code, output = cli(
        "--config", str(config_path), "bench", "seed",
        "--patrons", str(patrons), "--items", str(patrons * lent), "--login", LOGIN,
    )  # fmt: skip
    assert code == 0, output
    port = free_port()
    doomed = subprocess.Popen(
        [sys.executable, "-m", "sip2d", "--config", str(config_path), "serve",
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "SIP2D_DATABASE_URL": ""},
    )  # fmt: skip
    try:
        await wait_listening(port)
        survivor = await start(nursery, load_config(config_path, env={}))
        user, password = LOGIN.split(":", 1)
        acknowledged: list[str] = []

        async def kiosk(k: int, host: str, kiosk_port: int, items: list[int]) -> None:
            try:
                client = await SipClient.connect(host, kiosk_port)
                assert await client.login(user, password)
                for j in items:
                    reply = await client.checkout(patron_barcode(k), item_barcode(j), patron_pin(k))
                    if isinstance(reply.message, CheckoutResponse) and reply.message.ok:
                        acknowledged.append(item_barcode(j))
            except (OSError, trio.BrokenResourceError, ClientError):
                return  # the daemon died under this kiosk

        async with trio.open_nursery() as kiosks:
            for k in range(patrons):
                on_doomed = k % 2 == 0
                host, kiosk_port = (
                    ("127.0.0.1", port) if on_doomed else (survivor.host, survivor.port)
                )
                kiosks.start_soon(
                    kiosk, k, host, kiosk_port, [k + patrons * n for n in range(lent)]
                )
            while len(acknowledged) < patrons * 2:
                await trio.sleep(0.01)
            doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)

        # The survivor lends the dead daemon's remaining items to their patrons.
        client = await survivor.client()
        assert await client.login(user, password)
        for k in range(0, patrons, 2):
            for j in (k + patrons * n for n in range(lent)):
                reply = await client.checkout(patron_barcode(k), item_barcode(j), patron_pin(k))
                assert isinstance(reply.message, CheckoutResponse)
                if reply.message.ok:
                    acknowledged.append(item_barcode(j))
        await client.aclose()

        open_loans = [loan.item for loan in await loans_of(survivor.url) if not loan.returned]
        assert len(open_loans) == len(set(open_loans))  # never two open loans of one item
        assert set(acknowledged) <= set(open_loans)  # nothing acknowledged was lost
        # Every item ends up lent: the dead daemon's in-flight checkouts either committed
        # (the survivor then refused it as already lent, to the same patron) or left nothing.
        assert len(open_loans) == patrons * lent
        survivor.daemon.stop()
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)


async def test_serve_reuse_port_lets_a_second_process_share_the_port(
    tmp_path: Path, postgres_url: str
) -> None:
    """``sip2d serve --reuse-port`` end to end: two processes, one port, both serving."""
    config_path = write_config(tmp_path, postgres_url)
    assert cli("--config", str(config_path), "db", "upgrade")[0] == 0
    port = free_port()

    def serve(*extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "sip2d", "--config", str(config_path), "serve",
             "--listen", f"127.0.0.1:{port}", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "SIP2D_DATABASE_URL": ""},
        )  # fmt: skip

    first = serve("--reuse-port")
    try:
        await wait_listening(port)
        refused = serve()  # without the option the port is taken, as before
        _, error = await trio.to_thread.run_sync(refused.communicate)
        assert refused.returncode != 0 and b"cannot listen" in error
        second = serve("--reuse-port")
        try:
            # It says "listening" once bound (or fails with "cannot listen" and exits).
            assert await trio.to_thread.run_sync(logged_listening, second)
            assert second.poll() is None
            for _ in range(8):
                client = await SipClient.connect("127.0.0.1", port)
                reply = (await client.sc_status()).message
                assert reply.MESSAGE_ID == "98"
                await client.aclose()
        finally:
            second.terminate()
            second.wait(15)
    finally:
        first.terminate()
        first.wait(15)
