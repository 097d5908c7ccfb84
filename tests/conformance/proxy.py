"""A fault-injecting TCP proxy between the conformance suite and a real sip2d daemon.

Each :class:`Fault` may rewrite, drop or answer a request frame, rewrite or drop a response
frame, or tamper with the raw chunks the kiosk side sends (to break pipelining or split
frames). Frames are forwarded one by one so the daemon behind sees well-defined input; a fault
sees the connection's :class:`ConnState` (what has happened so far) and the request that a
response answers. This is how the tests make sip2d misbehave in one precise way.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable

import trio

CLOSE = b"<close>"
FLUSH_BYTES = 32 * 1024
DROP = b""


@dataclasses.dataclass
class ConnState:
    requests: list[bytes] = dataclasses.field(default_factory=list)
    responses: int = 0
    logged_in: bool = False
    pending: collections.deque[bytes] = dataclasses.field(default_factory=collections.deque)
    last_forwarded: bytes = b""
    extra: dict[str, object] = dataclasses.field(default_factory=dict)


RequestHook = Callable[[ConnState, bytes], "tuple[str, bytes] | None"]
ResponseHook = Callable[[ConnState, bytes, bytes | None], bytes | None]
ChunkHook = Callable[[ConnState, bytes], bytes]


@dataclasses.dataclass(frozen=True)
class Fault:
    """One misbehaviour. ``request`` returns None (forward unchanged) or an (action, data) pair:
    ``("forward", bytes)``, ``("reply", bytes)`` (answer the kiosk without the daemon),
    ``("drop", b"")`` or ``("close", b"")``. ``response`` returns the frame to send instead,
    ``DROP`` to send nothing, ``CLOSE`` to close, or None for unchanged."""

    name: str
    request: RequestHook | None = None
    response: ResponseHook | None = None
    chunk: ChunkHook | None = None


def _split(buffer: bytearray) -> list[bytes]:
    """Complete raw frames (each up to and including its CR, plus an LF right after it)."""
    frames: list[bytes] = []
    while True:
        cr = buffer.find(b"\r")
        lf = buffer.find(b"\n")
        if cr == -1 and lf == -1:
            return frames
        ends = [i for i in (cr, lf) if i != -1]
        end = min(ends)
        if buffer[end : end + 2] == b"\r\n":
            end += 1
        frames.append(bytes(buffer[: end + 1]))
        del buffer[: end + 1]


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], faults: list[Fault]) -> None:
        self.upstream = upstream
        self.faults = faults
        self.port = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        server = await trio.open_tcp_stream(*self.upstream)
        state = ConnState()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._upward, client, server, state, nursery.cancel_scope)
            nursery.start_soon(self._downward, server, client, state, nursery.cancel_scope)
        await trio.aclose_forcefully(client)
        await trio.aclose_forcefully(server)

    async def _upward(
        self,
        client: trio.SocketStream,
        server: trio.SocketStream,
        state: ConnState,
        scope: trio.CancelScope,
    ) -> None:
        buffer = bytearray()
        try:
            while data := await client.receive_some(65536):
                for fault in self.faults:
                    if fault.chunk is not None:
                        data = fault.chunk(state, data)
                buffer += data
                for frame in _split(buffer):
                    if not await self._request(frame, client, server, state):
                        scope.cancel()
                        return
                if len(buffer) > FLUSH_BYTES:
                    # An oversize frame: let the daemon see it, as it would without the proxy.
                    await server.send_all(bytes(buffer))
                    buffer.clear()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()

    async def _request(
        self, frame: bytes, client: trio.SocketStream, server: trio.SocketStream, state: ConnState
    ) -> bool:
        if frame.strip(b"\r\n"):
            state.requests.append(frame)
        for fault in self.faults:
            if fault.request is None:
                continue
            action = fault.request(state, frame)
            if action is None:
                continue
            kind, data = action
            if kind == "forward":
                frame = data
            elif kind == "reply":
                await client.send_all(data)
                return True
            elif kind == "drop":
                return True
            elif kind == "close":
                return False
        if frame.strip(b"\r\n\x00"):
            state.pending.append(frame)
            state.last_forwarded = frame
        await server.send_all(frame)
        return True

    async def _downward(
        self,
        server: trio.SocketStream,
        client: trio.SocketStream,
        state: ConnState,
        scope: trio.CancelScope,
    ) -> None:
        buffer = bytearray()
        try:
            while data := await server.receive_some(65536):
                buffer += data
                for frame in _split(buffer):
                    request = state.pending.popleft() if state.pending else None
                    if frame[:3] == b"941":
                        state.logged_in = True
                    state.responses += 1
                    out: bytes | None = frame
                    for fault in self.faults:
                        if fault.response is not None and out not in (DROP, CLOSE):
                            changed = fault.response(state, out, request)
                            if changed is not None:
                                out = changed
                    if out == CLOSE:
                        scope.cancel()
                        return
                    if out:
                        await client.send_all(out)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()
