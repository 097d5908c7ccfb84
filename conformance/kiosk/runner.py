"""Kiosk mode: start the reference ACS, relay the kiosk to it, judge what the kiosk sent.

Order of events: a temporary directory gets a migrated SQLite database seeded from the profile;
sip2d's daemon starts on 127.0.0.1 with an ephemeral port; the relay listens where the kiosk was
told to connect (``--listen``); when the wanted number of kiosk connections has closed (or on
Ctrl-C, or after ``max_seconds``) the relay and the daemon stop and the kiosk checks run over the
recorded frames. The temporary directory is removed at the end whatever happened.

The daemon watches signals, which Python allows only in the main thread: run this from the main
thread (the CLI does).
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import trio

from conformance.kiosk.acs import reference_config, seed_reference
from conformance.kiosk.checks import KIOSK_CHECKS, KioskSession
from conformance.kiosk.observer import Observation, Relay
from conformance.model import Check, CheckFailed, CheckResult, CheckSkipped, Report, Status
from conformance.profile import Profile
from conformance.wire import Recorder
from sip2d.config import ConfigError, parse_address
from sip2d.server.build import build_context
from sip2d.server.daemon import Daemon


class KioskSetupError(Exception):
    """The reference ACS or the listening socket could not be set up (one line for the user)."""


async def judge_kiosk(
    profile: Profile, observations: list[Observation], checks: tuple[Check, ...] = KIOSK_CHECKS
) -> list[CheckResult]:
    results: list[CheckResult] = []
    for item in checks:
        recorder = Recorder(item.id)
        session = KioskSession(profile, observations, recorder)
        started = time.perf_counter()
        try:
            await item.run(session)
            status, detail = Status.PASS, ""
        except CheckSkipped as exc:
            status, detail = Status.SKIP, str(exc)
        except CheckFailed as exc:
            status, detail = Status.FAIL, str(exc)
        except Exception as exc:  # a suite bug must cost one check, not the report
            status, detail = Status.FAIL, f"suite error: {type(exc).__name__}: {exc}"
        results.append(
            CheckResult(
                item,
                status,
                detail,
                session.notes,
                recorder.transcript,
                time.perf_counter() - started,
            )
        )
    return results


async def run_kiosk_suite(
    profile: Profile,
    listen: str,
    *,
    connections: int = 1,
    announce: Callable[[str], None] | None = None,
    ready: Callable[[tuple[str, int]], None] | None = None,
    max_seconds: float | None = None,
) -> Report:
    """Serve the reference ACS behind the relay until the kiosk is done, then judge it."""
    try:
        host, port = parse_address(listen, "--listen")
    except ConfigError as exc:
        raise KioskSetupError(str(exc)) from None
    say = announce or (lambda _text: None)
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sip2d-conformance-") as directory:
        config = reference_config(profile, Path(directory))
        await trio.to_thread.run_sync(seed_reference, config, profile)
        ctx = await trio.to_thread.run_sync(build_context, config)
        try:
            listeners = await trio.open_tcp_listeners(port, host=host or None)
        except OSError as exc:
            ctx.db.engine.dispose()
            raise KioskSetupError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
        relay_scope = trio.CancelScope()
        async with trio.open_nursery() as nursery:
            daemon: Daemon = await nursery.start(Daemon(ctx).run)
            relay = Relay(
                daemon.addresses[0],
                connections=connections,
                on_connect=lambda o: say(f"kiosk connected from {o.peer} (connection {o.number})"),
            )

            async def serve_relay(*, task_status: trio.TaskStatus[None]) -> None:
                with relay_scope:
                    await relay.serve(listeners, task_status=task_status)

            await nursery.start(serve_relay)
            bound = listeners[0].socket.getsockname()[:2]
            say(f"reference ACS ready: point the kiosk at {bound[0]}:{bound[1]} "
                f"(report after {connections} connection(s) close, or on Ctrl-C)")  # fmt: skip
            if ready is not None:
                ready((bound[0], bound[1]))
            await _wait_until_done(relay, max_seconds)
            relay_scope.cancel()
            for listener in listeners:
                await listener.aclose()
            daemon.stop()
    results = await judge_kiosk(profile, relay.observations)
    peers = sorted({o.peer for o in relay.observations})
    return Report(
        mode="kiosk",
        target=f"kiosk(s) {', '.join(peers) or 'none'} via {listen}",
        profile_name=profile.name,
        started=stamp,
        results=results,
        seconds=time.perf_counter() - started,
        secrets=profile.secrets(),
    )


async def _wait_until_done(relay: Relay, max_seconds: float | None) -> None:
    with trio.move_on_after(max_seconds if max_seconds is not None else float("inf")):
        if threading.current_thread() is threading.main_thread():
            async with trio.open_nursery() as nursery:

                async def on_interrupt() -> None:
                    # Installed after the daemon's own receiver, so Ctrl-C and SIGTERM end the
                    # observation (and produce the report) instead of only stopping the daemon.
                    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                        async for _signal in signals:
                            nursery.cancel_scope.cancel()
                            return

                nursery.start_soon(on_interrupt)
                await relay.finished.wait()
                nursery.cancel_scope.cancel()
        else:
            await relay.finished.wait()
