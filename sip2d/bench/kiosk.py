"""One simulated kiosk: a persistent connection, one request at a time, like the real thing.

The loop is the generator's hot path, written to cost as little as the server's cheapest
answer. It writes to and reads from a non-blocking socket directly and awaits only trio's
readiness wait (a ``SocketStream`` costs ~40% more CPU per message and ``trio.socket`` ~25%
more, measured against a fixed-answer server); it sends frames encoded before the clock
started, reads until the first CR, and judges the answer with two or three byte comparisons
(:mod:`sip2d.bench.classify`). There is no cancel scope per request: a watchdog task per
process scans the kiosks (:meth:`Kiosk.overdue`) and cancels one whose answer is late.

A kiosk stops only at a step marked ``boundary`` once the window has closed, so a patron
session in progress is finished (unmeasured) and leaves no loan open. After a transport error
or an answer out of step it reconnects, logs in again and restarts the current patron session,
as a kiosk's own software would.
"""

from __future__ import annotations

import socket
import time
from typing import Final

import trio

from sip2d.bench.classify import OK, REFUSED, WRONG_RESPONSE, classify
from sip2d.bench.scenarios import MARK_LOAN, MARK_SESSION_END, KioskPlan, Step
from sip2d.bench.stats import Tally

RECEIVE_BYTES: Final = 65536
RECONNECT_DELAY: Final = 0.2
# Login (argon2 at the server's cost, queued behind every other kiosk's) and warm-up.
SETUP_TIMEOUT: Final = 120.0
# Error kinds that leave the connection unusable.
_DESYNC: Final = frozenset({WRONG_RESPONSE})


class BenchError(Exception):
    """The run cannot go on (cannot connect, login refused); the message says why."""


class ConnectionLost(Exception):
    """The connection cannot carry on; ``counted`` when the error is already in the tally."""

    def __init__(self, kind: str, *, counted: bool = False) -> None:
        super().__init__(kind)
        self.kind = kind
        self.counted = counted


class Window:
    """When measurement starts and ends (``perf_counter`` seconds), shared by the kiosks."""

    def __init__(self) -> None:
        self.go = trio.Event()
        self.start = 0.0
        self.deadline = float("inf")

    def open(self, duration: float) -> None:
        self.start = time.perf_counter()
        self.deadline = self.start + duration
        self.go.set()

    @property
    def closed(self) -> bool:
        return time.perf_counter() >= self.deadline


async def open_socket(host: str, port: int) -> socket.socket:
    """A connected, non-blocking TCP socket with Nagle off (kiosk frames must not wait).

    Connected through trio, then handed back as a plain socket: the loop calls ``send`` and
    ``recv`` on it directly and only awaits trio's readiness wait, which saves trio's
    try-then-wait wrapper (a failed ``recv`` and an exception) on every message.
    """
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"cannot resolve {host}")
    family, kind, proto, _, address = infos[0]
    sock = trio.socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await sock.connect(address)
    except BaseException:
        sock.close()
        raise
    raw = socket.socket(family, kind, proto, fileno=sock.detach())
    raw.setblocking(False)
    return raw


def close_socket(sock: socket.socket) -> None:
    trio.lowlevel.notify_closing(sock)
    sock.close()


class Kiosk:
    """Runs one :class:`KioskPlan` against ``host:port`` until the window closes."""

    def __init__(self, plan: KioskPlan, host: str, port: int, tally: Tally) -> None:
        self.plan = plan
        self.host = host
        self.port = port
        self.tally = tally
        self.position = 0
        # perf_counter when the outstanding request was sent; 0.0 when none is.
        self.sent_at = 0.0
        self._scope: trio.CancelScope | None = None
        self._buffer = b""

    def overdue(self, now: float, timeout: float) -> bool:
        """Cancel the connection if an answer is later than ``timeout``; True if it did."""
        if self.sent_at and now - self.sent_at > timeout and self._scope is not None:
            self._scope.cancel()
            return True
        return False

    async def _send(self, sock: socket.socket, frame: bytes) -> None:
        view = memoryview(frame)
        while True:
            try:
                sent = sock.send(view)
            except BlockingIOError:
                sent = 0
            if sent == len(view):
                return
            view = view[sent:]
            await trio.lowlevel.wait_writable(sock)

    async def _exchange(self, sock: socket.socket, frame: bytes) -> bytes:
        """Send ``frame`` and return the next response frame (terminator stripped)."""
        await self._send(sock, frame)
        buffer = self._buffer
        end = buffer.find(b"\r")
        while end < 0:
            await trio.lowlevel.wait_readable(sock)
            try:
                data = sock.recv(RECEIVE_BYTES)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionLost("connection_closed")
            buffer += data
            end = buffer.find(b"\r")
        rest = buffer[end + 1 :]
        self._buffer = rest[1:] if rest[:1] == b"\n" else rest
        return buffer[:end]

    async def _setup(self, sock: socket.socket, first: bool) -> None:
        """Log in (every connection) and warm up (first connection only); not measured."""
        login = self.plan.login
        if login is not None:
            answer = await self._exchange(sock, login.frame)
            outcome = classify(answer, login.response_id, login.rule)
            if outcome == REFUSED:
                raise BenchError(
                    f"kiosk login refused by {self.host}:{self.port} (check --login and that "
                    "`sip2d bench seed` created that account)"
                )
            if outcome != OK:
                shown = answer[:2].decode("ascii", "replace")
                raise BenchError(
                    f"{self.host}:{self.port} answered {shown!r} to a 93 Login: not a SIP2 "
                    "server that takes logins (leave out --login for keepalive)"
                )
        if first:
            for step in self.plan.warmup:
                answer = await self._exchange(sock, step.frame)
                if answer[:2] != step.response_id:
                    raise BenchError(
                        f"unexpected answer {answer[:2]!r} to a {step.label} during warm-up"
                    )

    async def run(self, window: Window, ready: trio.MemorySendChannel[int]) -> None:
        """Connect, set up, report ready, then loop until the window closes."""
        first = True
        while True:
            try:
                sock = await open_socket(self.host, self.port)
            except OSError as exc:
                if first:
                    raise BenchError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
                self._count("connect_failed", window)
                if window.closed:
                    return
                await trio.sleep(RECONNECT_DELAY)
                continue
            self._buffer = b""
            lost: ConnectionLost | None = None
            with trio.CancelScope() as self._scope:
                try:
                    if first:
                        with trio.fail_after(SETUP_TIMEOUT):
                            await self._setup(sock, first=True)
                        first = False
                        await ready.send(self.plan.index)
                        await window.go.wait()
                    else:
                        await self._setup(sock, first=False)
                    await self._loop(sock, window)
                    return
                except ConnectionLost as exc:
                    lost = exc
                except trio.TooSlowError:
                    raise BenchError(
                        f"{self.host}:{self.port} did not finish the kiosk login and warm-up "
                        f"within {SETUP_TIMEOUT:.0f} s"
                    ) from None
                except OSError:
                    lost = ConnectionLost("connection_reset")
                finally:
                    close_socket(sock)
            self._scope = None
            if lost is None:
                lost = ConnectionLost("timeout")  # the watchdog cancelled the scope
            self.sent_at = 0.0
            if first:
                raise BenchError(
                    f"{self.host}:{self.port} dropped the connection during setup ({lost.kind})"
                )
            if not lost.counted:
                self._count(lost.kind, window)
            # Start the interrupted patron session again on the new connection.
            ring = self.plan.ring
            while self.position and not ring[self.position].boundary:
                self.position -= 1
            if window.closed:
                return
            await trio.sleep(RECONNECT_DELAY)

    def _count(self, kind: str, window: Window) -> None:
        if time.perf_counter() < window.deadline:
            self.tally.errors[kind] += 1

    async def _loop(self, sock: socket.socket, window: Window) -> None:
        ring: tuple[Step, ...] = self.plan.ring
        count = len(ring)
        position = self.position
        tally = self.tally
        ok, refused, errors = tally.ok, tally.refused, tally.errors
        samples = {step.label: tally.samples(step.label) for step in ring}
        clock = time.perf_counter
        deadline = window.deadline
        exchange = self._exchange
        while True:
            step = ring[position]
            if step.boundary and clock() >= deadline:
                return
            self.position = position
            started = self.sent_at = clock()
            answer = await exchange(sock, step.frame)
            finished = clock()
            self.sent_at = 0.0
            outcome = classify(answer, step.response_id, step.rule)
            measured = finished <= deadline
            if outcome == OK:
                if measured:
                    samples[step.label].append(finished - started)
                    ok[step.label] += 1
                    if step.mark == MARK_LOAN:
                        tally.loans += 1
                    elif step.mark == MARK_SESSION_END:
                        tally.sessions += 1
            elif outcome == REFUSED:
                if measured:
                    samples[step.label].append(finished - started)
                    refused[step.label] += 1
            else:
                if measured:
                    errors[outcome] += 1
                if outcome in _DESYNC:
                    raise ConnectionLost(outcome, counted=True)
            position += 1
            if position == count:
                position = 0
