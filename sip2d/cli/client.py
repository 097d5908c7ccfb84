"""`sip2d client HOST:PORT ...`: talk SIP2 to any server, for operators checking a setup.

One-shot commands log in (when ``--login`` is given), send one request, print the decoded
response field by field and exit non-zero when the server refused. ``raw`` sends frames typed
by hand, with or without checksums, for poking at a server's edge cases. PINs and passwords
are read from stdin or a prompt, never from the command line (which ``ps`` shows to everyone),
and are masked in everything printed.
"""

from __future__ import annotations

import dataclasses
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
import trio

from sip2d.cli.failures import connection_failure
from sip2d.client import ClientError, SipClient
from sip2d.config import ConfigError, parse_address
from sip2d.protocol import (
    Message,
    ProtocolError,
    Received,
    Summary,
    compute_checksum,
    decode,
    redacted_fields,
)
from sip2d.protocol.messages import (
    BlockPatron,
    FeePaidRequest,
    HoldRequest,
    ItemStatusUpdateRequest,
    PatronEnableRequest,
    RenewAllRequest,
    RenewRequest,
)
from sip2d.storage import values

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


def shown_value(value: object) -> str:
    """A response value as a person reads it: lists one per line, flags by name, yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # PatronStatus, Summary, SupportedMessages: fixed-width Y/N sets; name the Y ones.
        on = [f.name.replace("_", " ") for f in dataclasses.fields(value) if getattr(value, f.name)]
        return ", ".join(on) if on else "none"
    return str(value)


def print_response(received: Received, show_raw: bool) -> None:
    message = received.message
    click.echo(f"{type(message).MESSAGE_ID} {type(message).__name__}")
    for name, value in redacted_fields(message).items():
        if value in (None, (), ""):
            continue
        if name == "extra":
            for code, text in value:  # type: ignore[attr-defined]
                click.echo(f"  {code}: {text}")
        elif isinstance(value, tuple):
            # Repeatable fields (AF screen messages, item lists): one value per line.
            click.echo(f"  {name}:")
            for entry in value:
                click.echo(f"    {shown_value(entry)}")
        else:
            click.echo(f"  {name}: {shown_value(value)}")
    if received.trailer is not None:
        click.echo(f"  trailer: AY{received.trailer.sequence} AZ{received.trailer.checksum}")
    if show_raw:
        click.echo(f"  raw: {received.raw!r}")


def refused(received: Received) -> bool:
    """Whether the answer says no: ok=0, an unknown patron or a wrong PIN (BL=N, CQ=N),
    payment or item properties not accepted, or 96 (the server could not read the request)."""
    message = received.message
    for flag in (
        "ok",
        "payment_accepted",
        "valid_patron",
        "valid_patron_password",
        "item_properties_ok",
    ):
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
    "renew",
    "renew-all",
    "item-info",
    "item-status",
    "fee-paid",
    "hold",
    "block",
    "enable",
    "end-session",
    "raw",
)
# Actions whose SUBJECT is an item barcode and that take the patron from --patron.
ITEM_WITH_PATRON = ("checkout", "renew")
# Actions that send the patron's PIN (AD) unless --no-pin.
WITH_PIN = ("patron-status", "patron-info", "checkout", "renew", "renew-all", "fee-paid", "hold",
            "enable")  # fmt: skip
HOLD_MODES = {"place": "+", "cancel": "-", "change": "*"}


@dataclass
class Request:
    """What one action needs besides the target: the options of the command line."""

    action: str
    subject: str
    patron: str
    pin: str | None
    which: str | None
    start: int | None
    end: int | None
    location: str
    fee_acknowledged: bool
    amount: str
    fee_type: str
    payment_type: str
    currency: str
    fee_id: str | None
    transaction_id: str | None
    title: str | None
    item: str | None
    hold_mode: str
    pickup: str | None
    message: str
    card_retained: bool
    properties: str


def build_message(req: Request) -> Message:
    """The request message for the actions SipClient has no helper for."""
    now = datetime.now().replace(microsecond=0)
    acknowledged = True if req.fee_acknowledged else None
    if req.action == "renew":
        return RenewRequest(
            transaction_date=now,
            patron_identifier=req.patron,
            patron_password=req.pin,
            item_identifier=req.subject,
            fee_acknowledged=acknowledged,
        )
    if req.action == "renew-all":
        return RenewAllRequest(
            transaction_date=now,
            patron_identifier=req.subject,
            patron_password=req.pin,
            fee_acknowledged=acknowledged,
        )
    if req.action == "fee-paid":
        return FeePaidRequest(
            transaction_date=now,
            fee_type=req.fee_type,
            payment_type=req.payment_type,
            currency_type=req.currency,
            fee_amount=req.amount,
            patron_identifier=req.subject,
            patron_password=req.pin,
            fee_identifier=req.fee_id,
            transaction_id=req.transaction_id,
        )
    if req.action == "hold":
        return HoldRequest(
            hold_mode=HOLD_MODES[req.hold_mode],
            transaction_date=now,
            pickup_location=req.pickup,
            patron_identifier=req.subject,
            patron_password=req.pin,
            item_identifier=req.item,
            title_identifier=req.title,
            fee_acknowledged=acknowledged,
        )
    if req.action == "block":
        return BlockPatron(
            card_retained=req.card_retained,
            transaction_date=now,
            blocked_card_msg=req.message,
            patron_identifier=req.subject,
        )
    if req.action == "enable":
        return PatronEnableRequest(
            transaction_date=now, patron_identifier=req.subject, patron_password=req.pin
        )
    if req.action == "item-status":
        return ItemStatusUpdateRequest(
            transaction_date=now, item_identifier=req.subject, item_properties=req.properties
        )
    raise ValueError(f"no message for {req.action}")


def _check_request(req: Request) -> None:
    """Usage mistakes, found before anything is sent (or a PIN asked for)."""
    if req.action != "sc-status" and not req.subject:
        item_actions = (*ITEM_WITH_PATRON, "checkin", "item-info", "item-status")
        what = "an item barcode" if req.action in item_actions else "a barcode or frame"
        raise click.UsageError(f"{req.action} needs {what}")
    if req.action in ITEM_WITH_PATRON and not req.patron:
        raise click.UsageError(f"{req.action} needs --patron BARCODE")
    if req.action == "fee-paid":
        if not req.amount:
            raise click.UsageError("fee-paid needs --amount, e.g. --amount 2.50")
        try:
            values.amount_cents(req.amount)
        except ValueError as exc:
            raise click.UsageError(f"--amount: {exc}") from None
    if req.action == "hold" and not (req.item or req.title):
        raise click.UsageError("hold needs --item BARCODE or --title TEXT")


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
@click.option("--patron", default="", help="Patron barcode (checkout, renew).")
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
@click.option("--fee-acknowledged", is_flag=True, help="checkout, renew, renew-all, hold: BO=Y.")
@click.option("--amount", default="", help="fee-paid: BV amount, e.g. 2.50.")
@click.option("--fee-type", default="01", show_default=True, help="fee-paid: fee type (2 digits).")
@click.option(
    "--payment-type", default="00", show_default=True, help="fee-paid: 00 cash, 01 VISA, 02 card."
)
@click.option("--currency", default="USD", show_default=True, help="fee-paid: ISO 4217 code.")
@click.option("--fee-id", default=None, help="fee-paid: CG, the fee to pay.")
@click.option("--transaction-id", default=None, help="fee-paid: BK, the kiosk's id.")
@click.option(
    "--mode",
    "hold_mode",
    type=click.Choice(sorted(HOLD_MODES)),
    default="place",
    show_default=True,
    help="hold: place (+), cancel (-) or change (*).",
)
@click.option("--item", default=None, help="hold: AB, the copy to hold.")
@click.option("--title", default=None, help="hold: AJ, the title to hold.")
@click.option("--pickup", default=None, help="hold: BS, pickup location.")
@click.option("--message", default="", help="block: AL, why the card is blocked.")
@click.option("--card-retained", is_flag=True, help="block: the kiosk kept the card.")
@click.option("--properties", default="", help="item-status: CH, the item properties to store.")
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
    patron: str,
    pin_stdin: bool,
    with_pin: bool,
    encoding: str,
    checksums: bool,
    crlf: bool,
    tls: bool,
    cafile: str | None,
    timeout: float,
    show_raw: bool,
    **options: Any,
) -> None:
    """A SIP2 client for checking a server: log in, send one request, print the answer.

    Exits 1 when the server refused (ok=0, unknown patron BL=N, wrong PIN CQ=N, payment or
    item properties not accepted, 96), or when the login was refused.

    \b
    Examples:
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD sc-status
      echo 3917 | sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD \\
          patron-status 2000001 --pin-stdin
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD checkout 3000001 --patron 2000001
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD renew 3000001 --patron 2000001
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD fee-paid 2000001 --amount 2.50
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD hold 2000001 --item 3000001
      sip2d client 127.0.0.1:6001 --login kiosk:PASSWORD item-status 3000001 --properties X
      sip2d client 127.0.0.1:6001 --no-checksums raw '9900302.00'
    """
    try:
        host, port = parse_address(address, "HOST:PORT")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    req = Request(action=action, subject=subject or "", patron=patron, pin=None, **options)
    _check_request(req)
    password: str | None = None
    if login is not None and ":" in login:
        login, password = login.split(":", 1)
    elif login is not None:
        password = read_secret(password_stdin, f"Password for {login}")
    if with_pin and action in WITH_PIN:
        pin_owner = patron if action in ITEM_WITH_PATRON else subject
        req.pin = read_secret(pin_stdin, f"PIN for {pin_owner}")
    target = Target(host, port, login, encoding, checksums, crlf, tls, cafile, timeout, show_raw)
    barcode = req.subject

    async def act(client: SipClient) -> Received:
        if action == "sc-status":
            return await client.sc_status()
        if action == "patron-status":
            return await client.patron_status(barcode, req.pin)
        if action == "patron-info":
            summary = Summary(**{LISTS[req.which]: True}) if req.which else Summary()
            return await client.patron_information(
                barcode, req.pin, summary=summary, start=req.start, end=req.end
            )
        if action == "checkout":
            extra: dict[str, Any] = {"fee_acknowledged": True} if req.fee_acknowledged else {}
            return await client.checkout(patron, barcode, req.pin, **extra)
        if action == "checkin":
            return await client.checkin(barcode, location=req.location)
        if action == "item-info":
            return await client.item_information(barcode)
        if action == "end-session":
            return await client.end_session(barcode)
        if action != "raw":
            return await client.request(build_message(req))
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
