"""The connection clocks: the timekeeper ends waits for input, never a message in hand.

The streams here are scripted so that the two races the timekeeper creates happen on purpose:
its cancel landing just as input arrives, and a clock running out while a message is being
answered. Both must answer the kiosk; the real daemon and database do the answering.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from sip2d.protocol import decode, encode
from sip2d.protocol.messages import SCStatus
from sip2d.server.connection import Connection
from tests.server.conftest import Running, make_config, seed, start

STATUS = encode(
    SCStatus(status_code="0", max_print_width=80, protocol_version="2.00"),
    "utf-8",
    sequence=1,
    checksum=True,
)


# A moment by which every clock of a connection has run out.
LATER = 1e12


class ScriptedStream(trio.abc.Stream):
    """Hands out ``inputs`` one per receive (then end of stream), calling ``on_receive`` and
    ``on_send`` at the moment a real socket would have the data ready or be writing."""

    def __init__(
        self,
        inputs: list[bytes],
        on_receive: Callable[[], None] = lambda: None,
        on_send: Callable[[], None] = lambda: None,
    ) -> None:
        self.inputs = inputs
        self.on_receive = on_receive
        self.on_send = on_send
        self.sent: list[bytes] = []

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        if not self.inputs:
            return b""
        # The data is ready and this task is about to resume with it: no checkpoint between.
        self.on_receive()
        return self.inputs.pop(0)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.on_send()
        self.sent.append(bytes(data))
        await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def connection(running: Running, stream: ScriptedStream) -> Connection:
    ctx = running.daemon.ctx
    return Connection(ctx, running.daemon.dispatcher, stream, ctx.config.listeners[0], "127.0.0.1")


async def test_a_frame_that_arrives_as_its_clock_runs_out_is_answered(running: Running) -> None:
    holder: list[Connection] = []
    stream = ScriptedStream([STATUS, STATUS], on_receive=lambda: holder[0].expire(LATER))
    conn = connection(running, stream)
    holder.append(conn)
    await conn.serve()
    answers = [decode(frame[:-1]).message.MESSAGE_ID for frame in stream.sent]
    # Both frames arrived as the timekeeper fired; each is answered under a fresh scope, and
    # the connection ends because the stream ended, not because a clock ran out.
    assert answers == ["98", "98"]


async def test_a_message_in_hand_is_answered_even_if_its_clock_has_run_out(
    nursery: trio.Nursery, tmp_path: Path, database_url: str
) -> None:
    # By LATER the clocks of waits for input have run out, not the send clock: that one ends
    # only a send that cannot complete (tests/server/test_misbehaving_clients.py).
    config = make_config(tmp_path, database_url, send_timeout=2 * LATER)
    seed(config)
    running = await start(nursery, config)
    holder: list[Connection] = []
    expired: list[bool] = []

    def timekeeper_fires() -> None:
        holder[0].expire(LATER)
        holder[0].stop_waiting()
        expired.append(True)

    stream = ScriptedStream([STATUS, STATUS], on_send=timekeeper_fires)
    conn = connection(running, stream)
    holder.append(conn)
    await conn.serve()
    assert expired == [True, True]
    assert [decode(frame[:-1]).message.MESSAGE_ID for frame in stream.sent] == ["98", "98"]
    running.daemon.stop()
