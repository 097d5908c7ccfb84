"""A program may run the daemon inside its own event loop, on a thread of its choosing."""

from __future__ import annotations

import threading
from pathlib import Path

import trio

from sip2d.client import SipClient
from sip2d.protocol import ACSStatus
from sip2d.server.build import build_context
from sip2d.server.daemon import Daemon
from tests.server.conftest import make_config, seed


def test_a_daemon_without_signal_handlers_serves_from_a_worker_thread(
    tmp_path: Path, database_url: str
) -> None:
    """Signal handlers can only be installed on the main thread; without them this works."""
    config = make_config(tmp_path, database_url)
    seed(config)
    started = threading.Event()
    failures: list[BaseException] = []
    holder: dict[str, object] = {}

    def serve() -> None:
        async def main() -> None:
            daemon = Daemon(build_context(config), handle_signals=False)
            holder["daemon"], holder["token"] = daemon, trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                started.set()

        try:
            trio.run(main)
        except BaseException as exc:
            failures.append(exc)
            started.set()

    thread = threading.Thread(target=serve, name="embedded-sip2d")
    thread.start()
    assert started.wait(30), "the daemon did not start"
    assert not failures, failures
    daemon = holder["daemon"]
    assert isinstance(daemon, Daemon)
    host, port = daemon.addresses[0]

    async def keep_alive() -> object:
        async with await SipClient.connect(host, port) as kiosk:
            return (await kiosk.sc_status()).message

    # The kiosk runs its own event loop on this thread, beside the daemon's on the other.
    assert isinstance(trio.run(keep_alive), ACSStatus)
    token = holder["token"]
    assert isinstance(token, trio.lowlevel.TrioToken)
    token.run_sync_soon(daemon.stop)
    thread.join(30)
    assert not thread.is_alive(), "the daemon did not stop"
    assert not failures, failures
