"""Holding thousands of idle kiosk connections, to measure what an idle kiosk costs a daemon.

Most kiosks in a library are idle most of the time, but each keeps its TCP connection open
for days. This opens ``count`` connections, has each one answered once (a 99, or a 93 login
when credentials are given) so the daemon has really set it up, and then keeps them without a
task per socket: the holder itself should cost next to nothing while it waits. At the end it
counts how many the daemon closed meanwhile (``poll`` on every socket, no reads).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import trio

from sip2d.bench.classify import OK, classify
from sip2d.bench.kiosk import BenchError, close_socket, open_socket
from sip2d.bench.scenarios import Builder, Credentials, Step, number_before
from sip2d.bench.worker import raise_fd_limit

OPEN_CONCURRENCY: Final = 200


@dataclass
class IdleConnections:
    """The sockets being held; close them with :meth:`close`."""

    sockets: list[socket.socket]

    def still_open(self) -> int:
        """How many the server has not closed (no data and no hang-up waiting on them)."""
        poller = select.poll()
        for sock in self.sockets:
            poller.register(sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        closed = {fd for fd, _ in poller.poll(0)}
        return sum(1 for sock in self.sockets if sock.fileno() not in closed)

    def close(self) -> None:
        for sock in self.sockets:
            close_socket(sock)
        self.sockets.clear()


def _first_step(credentials: Credentials | None) -> Step:
    builder = Builder("")
    request = builder.login(credentials) if credentials is not None else builder.sc_status()
    return number_before([request])[0]


async def open_idle(
    host: str,
    port: int,
    count: int,
    *,
    credentials: Credentials | None = None,
    progress: Callable[[int], None] | None = None,
    timeout: float = 60.0,
) -> IdleConnections:
    """Open ``count`` connections, each answered once, and return them (held, not read)."""
    raise_fd_limit(count + 256)
    step = _first_step(credentials)
    held = IdleConnections([])
    limiter = trio.CapacityLimiter(OPEN_CONCURRENCY)
    failures: list[str] = []

    async def one() -> None:
        async with limiter:
            try:
                sock = await open_socket(host, port)
            except OSError as exc:
                failures.append(f"connect: {exc.strerror or exc}")
                return
            try:
                sock.send(step.frame)
                answer = b""
                while not answer.endswith(b"\r"):
                    await trio.lowlevel.wait_readable(sock)
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed by the server")
                    answer += data
            except OSError as exc:
                close_socket(sock)
                failures.append(str(exc))
                return
            if classify(answer.rstrip(b"\r\n"), step.response_id, step.rule) != OK:
                close_socket(sock)
                failures.append(f"refused ({answer[:2].decode('ascii', 'replace')})")
                return
            held.sockets.append(sock)
            if progress is not None:
                progress(len(held.sockets))

    try:
        with trio.fail_after(timeout):
            async with trio.open_nursery() as nursery:
                for _ in range(count):
                    nursery.start_soon(one)
    except trio.TooSlowError:
        held.close()
        raise BenchError(
            f"opening {count} idle connections took longer than {timeout:.0f} s"
        ) from None
    if failures:
        held.close()
        raise BenchError(
            f"{len(failures)} of {count} idle connections failed (first: {failures[0]})"
        )
    return held
