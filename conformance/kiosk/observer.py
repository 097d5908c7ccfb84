"""A transparent TCP relay between the kiosk and the reference ACS that records every frame.

Bytes are forwarded unchanged in both directions as soon as they arrive (the kiosk must see
exactly what sip2d sends, and sip2d exactly what the kiosk sends); on the side, each direction
is split into frames with :class:`conformance.wire.FrameSplitter`, which keeps terminators and
stray bytes, and every frame is timestamped into the connection's :class:`Observation`. The
kiosk checks then judge the observations after the kiosk has gone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import trio

from conformance.wire import Frame, FrameSplitter, WireError

KIOSK = "sc"
ACS = "acs"


@dataclasses.dataclass(frozen=True, slots=True)
class Observed:
    """One frame seen on the relay: ``origin`` is ``"sc"`` (the kiosk) or ``"acs"``."""

    origin: str
    frame: Frame
    at: float


@dataclasses.dataclass
class Observation:
    """Everything one kiosk connection did, in order."""

    number: int
    peer: str
    frames: list[Observed] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    closed_by: str = ""

    def requests(self) -> list[Observed]:
        return [o for o in self.frames if o.origin == KIOSK]


class Relay:
    """Accepts kiosks on ``listeners`` and relays each one to the ACS at ``upstream``."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        connections: int,
        on_connect: Callable[[Observation], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.wanted = connections
        self.observations: list[Observation] = []
        self.finished = trio.Event()
        self.on_connect = on_connect
        self._closed = 0
        self._started = 0.0

    async def serve(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self._started = trio.current_time()
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    async def _handle(self, kiosk: trio.SocketStream) -> None:
        try:
            peer = "{}:{}".format(*kiosk.socket.getpeername()[:2])
        except OSError:
            peer = "unknown"
        observation = Observation(len(self.observations) + 1, peer)
        self.observations.append(observation)
        if self.on_connect is not None:
            self.on_connect(observation)
        try:
            acs = await trio.open_tcp_stream(*self.upstream)
        except OSError as exc:
            observation.problems.append(f"the reference ACS could not be reached: {exc}")
            await trio.aclose_forcefully(kiosk)
            self._done()
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, kiosk, acs, observation, KIOSK, nursery.cancel_scope)
            nursery.start_soon(self._pump, acs, kiosk, observation, ACS, nursery.cancel_scope)
        await trio.aclose_forcefully(kiosk)
        await trio.aclose_forcefully(acs)
        self._done()

    def _done(self) -> None:
        self._closed += 1
        if self._closed >= self.wanted:
            self.finished.set()

    async def _pump(
        self,
        source: trio.abc.Stream,
        sink: trio.abc.Stream,
        observation: Observation,
        origin: str,
        scope: trio.CancelScope,
    ) -> None:
        splitter = FrameSplitter()
        watching = True
        try:
            while True:
                data = await source.receive_some(65536)
                if not data:
                    break
                if watching:
                    splitter.feed(data)
                    try:
                        while (frame := splitter.next_frame()) is not None:
                            at = round(trio.current_time() - self._started, 3)
                            observation.frames.append(Observed(origin, frame, at))
                    except WireError as exc:
                        observation.problems.append(f"{origin}: {exc}")
                        watching = False
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        if not observation.closed_by:
            observation.closed_by = "kiosk" if origin == KIOSK else "reference ACS"
        scope.cancel()
