"""The peer: PyPI ``pysip2`` 0.1.0's SIP2 server with a small in-memory backend.

sip2d is compared with another Python SIP2 server doing the same job, measured by the same
generator in the same run. pysip2 is a typed codec plus an AnyIO server to which applications
attach handlers; this gives it what sip2d has for ``keepalive`` and ``patron-status``: a 93
login checked against one in-memory account and a 23 answered from a dict of the bench
patrons (no database, no PIN). Its 99 answer is pysip2's built-in 98. Every handler is
``async`` so pysip2 does not carry it across a worker thread.

Benchmark only: pysip2 is not a sip2d dependency (``.venv/bin/pip install pysip2==0.1.0``).

Run: ``python benchmarks/pysip2_peer.py --login USER:PASSWORD [--patrons N] [--port N]``;
prints ``listening HOST:PORT``.
"""

from __future__ import annotations

import argparse
import socket
import sys
from datetime import datetime
from typing import Any

import anyio
from pysip2 import (
    LOGIN,
    PATRON_STATUS,
    LoginRequest,
    LoginResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    SIP2Server,
)

from sip2d.bench.dataset import patron_barcode


def sip_now() -> str:
    now = datetime.now()
    return now.strftime("%Y%m%d") + "    " + now.strftime("%H%M%S")


def build_server(user: str, password: str, patrons: int) -> SIP2Server:
    names = {patron_barcode(i): f"Bench Patron {i + 1}" for i in range(patrons)}
    server = SIP2Server(
        encoding="utf-8", institution_id="MAIN", library_name="pysip2 peer", login_required=True
    )

    @server.route(LOGIN)
    async def login(request: LoginRequest, ctx: Any) -> LoginResponse:
        ok = request.login_user_id == user and request.login_password == password
        return LoginResponse(ok="1" if ok else "0")

    @server.route(PATRON_STATUS)
    async def patron_status(request: PatronStatusRequest, ctx: Any) -> PatronStatusResponse:
        name = names.get(request.patron_identifier)
        return PatronStatusResponse(
            patron_status=" " * 14,
            language="000",
            transaction_date=sip_now(),
            institution_id=request.institution_id,
            patron_identifier=request.patron_identifier,
            personal_name=name or "",
            valid_patron="Y" if name is not None else "N",
            currency_type="USD",
            fee_amount="0.00",
        )

    return server


async def main(user: str, password: str, patrons: int, port: int) -> None:
    server = build_server(user, password, patrons)
    listener = await server.listen("127.0.0.1", port)
    raw = listener.extra(anyio.abc.SocketAttribute.raw_socket)
    if isinstance(raw, socket.socket):
        print(f"listening 127.0.0.1:{raw.getsockname()[1]}", flush=True)
    await listener.serve(server._handle_connection)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--login", required=True, metavar="USER:PASSWORD")
    parser.add_argument("--patrons", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    login_user, _, login_password = args.login.partition(":")
    try:
        anyio.run(main, login_user, login_password, args.patrons, args.port)
    except KeyboardInterrupt:
        sys.exit(0)
