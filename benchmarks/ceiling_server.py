"""The transport ceiling: a trio server that answers every frame with one fixed 98.

It reads, counts carriage returns, and writes that many copies of a 98 ACS Status encoded
once at start-up: no decoding, no dispatch, no database. Whatever sip2d achieves is compared
with this, measured in the same run by the same generator, so the ratio says how much of the
transport's capacity the protocol and the circulation work use. It uses the same trio
``SocketStream`` transport and receive size as the daemon, so the difference is the daemon's
own work and not a different I/O layer.

Run: ``python benchmarks/ceiling_server.py [--port N]``; prints ``listening HOST:PORT``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

import trio

from sip2d.protocol import ACSStatus, SupportedMessages, encode

RECEIVE_SIZE = 4096


def fixed_answer() -> bytes:
    status = ACSStatus(
        online_status=True,
        checkin_ok=True,
        checkout_ok=True,
        acs_renewal_policy=True,
        status_update_ok=False,
        offline_ok=True,
        timeout_period=100,
        retries_allowed=3,
        date_time_sync=datetime.now().replace(microsecond=0),
        institution_id="MAIN",
        library_name="ceiling",
        supported_messages=SupportedMessages(sc_acs_status=True),
    )
    return encode(status, "utf-8", checksum=True)


async def serve(port: int, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    answer = fixed_answer()

    async def handler(stream: trio.SocketStream) -> None:
        try:
            while True:
                data = await stream.receive_some(RECEIVE_SIZE)
                if not data:
                    return
                frames = data.count(b"\r")
                if frames:
                    await stream.send_all(answer * frames)
        except trio.BrokenResourceError:
            return

    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handler, listeners)


async def main(port: int) -> None:
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(serve, port)
        print(f"listening 127.0.0.1:{bound}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    try:
        trio.run(main, parser.parse_args().port)
    except KeyboardInterrupt:
        sys.exit(0)
