"""A minimal HTTP endpoint for ``/metrics`` (Prometheus) and ``/healthz``.

prometheus-client ships a threaded HTTP server, but ``/healthz`` must ask the database through
the daemon's own runner, and a second concurrency model inside a trio program is a second
thing to shut down cleanly. Two GET routes over HTTP/1.0 are a few lines of trio instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("sip2d.http")

MAX_REQUEST = 8192


def _response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


async def handle_http(
    stream: trio.abc.Stream,
    registry: CollectorRegistry,
    health: Callable[[], Awaitable[bool]],
) -> None:
    try:
        with trio.move_on_after(5):
            request = b""
            while b"\r\n\r\n" not in request and len(request) < MAX_REQUEST:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                request += chunk
            line = request.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if len(parts) < 2 or parts[0] != "GET":
                reply = _response("405 Method Not Allowed", b"GET only\n")
            elif path == "/metrics":
                reply = _response("200 OK", generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = await health()
                reply = (
                    _response("200 OK", b"ok\n")
                    if ok
                    else _response("503 Service Unavailable", b"database unavailable\n")
                )
            else:
                reply = _response("404 Not Found", b"not found\n")
            await stream.send_all(reply)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await stream.aclose()
