"""`sip2d client HOST:PORT ...`: talk SIP2 to any server, for operators checking a setup.

One-shot commands log in (when ``--login`` is given), send one request, print the decoded
response field by field and exit non-zero when the server refused. ``raw`` sends frames typed
by hand, with or without checksums, for poking at a server's edge cases. PINs and passwords
are read from stdin or a prompt, never from the command line (which ``ps`` shows to everyone),
and are masked in everything printed.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import click
import trio

from sip2d.cli.failures import connection_failure
from sip2d.client import ClientError, SipClient
from sip2d.config import ConfigError, parse_address
from sip2d.protocol import (
    ProtocolError,
    Received,
    Summary,
    compute_checksum,
    decode,
    redacted_fields,
)

LISTS = {
    "holds": "hold_items",
    "overdue": "overdue_items",
    "charged": "charged_items",
    "fines": "fine_items",
    "recall": "recall_items",
    "unavailable": "unavailable_holds",
}


@dataclass
class Target:
    host: str
    port: int
    login: str | None
    encoding: str
    checksums: bool
    crlf: bool
    tls: bool
    cafile: str | None
    timeout: float
    show_raw: bool


def read_secret(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt(prompt, hide_input=True))


def print_response(received: Received, show_raw: bool) -> None:
    message = received.message
    click.echo(f"{type(message).MESSAGE_ID} {type(message).__name__}")
    for name, value in redacted_fields(message).items():
        if value in (None, (), ""):
            continue
        click.echo(f"  {name}: {value}")
    if received.trailer is not None:
        click.echo(f"  trailer: AY{received.trailer.sequence} AZ{received.trailer.checksum}")
    if show_raw:
        click.echo(f"  raw: {received.raw!r}")


def refused(received: Received) -> bool:
    message = received.message
    for flag in ("ok", "payment_accepted", "valid_patron", "item_properties_ok"):
        if getattr(message, flag, True) is False:
            return True
    return type(message).MESSAGE_ID == "96"


async def _session(
    target: Target, password: str | None, action: Callable[[SipClient], Awaitable[Received]]
) -> Received:
    context = None
    if target.tls:
        context = ssl.create_default_context(cafile=target.cafile)
    client = await SipClient.connect(
        target.host,
        target.port,
        tls=context,
        encoding=target.encoding,
        checksums=target.checksums,
        terminator=b"\r\n" if target.crlf else b"\r",
        timeout=target.timeout,
    )
    async with client:
        if target.login is not None and not await client.login(target.login, password or ""):
            raise click.ClickException("login refused (94 ok=0)")
        return await action(client)


ACTIONS = (
    "sc-status",
    "patron-status",
    "patron-info",
    "checkout",
    "checkin",
    "item-info",
    "end-session",
    "raw",
)


@click.command(name="client")
@click.argument("address", metavar="HOST:PORT")
@click.argument("action", type=click.Choice(ACTIONS))
@click.argument("subject", required=False, metavar="[BARCODE|ITEM|FRAME]")
@click.option(
    "--login",
    "login",
    metavar="USER[:PASSWORD]",
    help="Kiosk login for 93. Without :PASSWORD the password is prompted or read with "
    "--password-stdin (a password on the command line is visible to other local users).",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the kiosk password from the first stdin line."
)
@click.option("--patron", help="Patron barcode (checkout).")
@click.option(
    "--pin-stdin", is_flag=True, help="Read the PIN from stdin (after the password, if both)."
)
@click.option(
    "--pin/--no-pin", "with_pin", default=True, show_default=True, help="Send a PIN (AD)."
)
@click.option(
    "--list", "which", type=click.Choice(sorted(LISTS)), help="patron-info: one item list."
)
@click.option("--start", type=int, help="patron-info: BP, first item (1-based).")
@click.option("--end", type=int, help="patron-info: BQ, last item (inclusive).")
@click.option("--location", default="", help="checkin: AP current location.")
@click.option(
    "--fee-acknowledged", is_flag=True, help="checkout: BO=Y, the patron agreed to a fee."
)
@click.option(
    "--encoding", default="utf-8", show_default=True, help="utf-8, cp850, latin-1 or ascii."
)
@click.option("--checksums/--no-checksums", default=True, show_default=True, help="Send AY/AZ.")
@click.option("--crlf", is_flag=True, help="Terminate frames with CR LF instead of CR.")
@click.option("--tls", is_flag=True, help="Connect with TLS.")
@click.option("--cafile", type=click.Path(dir_okay=False, exists=True), help="CA bundle for --tls.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for a response.")
@click.option("--show-raw", is_flag=True, help="Also print the raw response frame.")
def command(
    address: str,
    action: str,
    subject: str | None,
    login: str | None,
    password_stdin: bool,
    patron: str | None,
    pin_stdin: bool,
    with_pin: bool,
    which: str | None,
    start: int | None,
    end: int | None,
    location: str,
    fee_acknowledged: bool,
    encoding: str,
    checksums: bool,
    crlf: bool,
    tls: bool,
    cafile: str | None,
    timeout: float,
    show_raw: bool,
) -> None:
    """A SIP2 client for checking a server: log in, send one request, print the answer.

    Exits 1 when the server refused (ok=0, BL=N, payment not accepted, 96).

    \b
    Examples:
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD sc-status
      echo 3917 | sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD \\
          patron-status 2000001 --pin-stdin
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD checkout 3000001 --patron 2000001
      sip2d client 127.0.0.1:6001 --no-checksums raw '9900302.00'
    """
    try:
        host, port = parse_address(address, "HOST:PORT")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    needs_subject = action not in ("sc-status",)
    if needs_subject and not subject:
        raise click.UsageError(f"{action} needs a barcode, item or frame")
    if action == "checkout" and not patron:
        raise click.UsageError("checkout needs --patron BARCODE")
    password: str | None = None
    if login is not None and ":" in login:
        login, password = login.split(":", 1)
    elif login is not None:
        password = read_secret(password_stdin, f"Password for {login}")
    pin: str | None = None
    pin_owner = patron if action == "checkout" else subject
    if with_pin and action in ("patron-status", "patron-info", "checkout"):
        pin = read_secret(pin_stdin, f"PIN for {pin_owner}")
    target = Target(host, port, login, encoding, checksums, crlf, tls, cafile, timeout, show_raw)
    barcode = subject or ""

    async def act(client: SipClient) -> Received:
        if action == "sc-status":
            return await client.sc_status()
        if action == "patron-status":
            return await client.patron_status(barcode, pin)
        if action == "patron-info":
            summary = Summary(**{LISTS[which]: True}) if which else Summary()
            return await client.patron_information(
                barcode, pin, summary=summary, start=start, end=end
            )
        if action == "checkout":
            extra: dict[str, Any] = {"fee_acknowledged": True} if fee_acknowledged else {}
            return await client.checkout(patron or "", barcode, pin, **extra)
        if action == "checkin":
            return await client.checkin(barcode, location=location)
        if action == "item-info":
            return await client.item_information(barcode)
        if action == "end-session":
            return await client.end_session(barcode)
        text = barcode.encode(encoding)
        if checksums:
            prefix = text + f"AY{client.sequence}AZ".encode()
            text = prefix + compute_checksum(prefix).encode()
        await client.send_raw(text + client.terminator)
        return decode(await client.receive_frame(), encoding)

    try:
        received = trio.run(_session, target, password, act)
    except (ClientError, OSError, trio.BrokenResourceError) as exc:
        raise click.ClickException(f"{host}:{port}: {connection_failure(exc, tls=tls)}") from None
    except ProtocolError as exc:
        raise click.ClickException(f"undecodable response: {exc}") from None
    print_response(received, show_raw)
    if refused(received):
        sys.exit(1)
