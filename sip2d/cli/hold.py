"""`sip2d hold`: the hold queues, placing a hold at the desk, and cancelling one.

``place`` follows the kiosk's rule (:func:`sip2d.circulation.rules.hold`): a blocked or expired
card is refused the same way, and the circulation journal records it with the CLI user as the
terminal. ``cancel`` takes the hold's id from ``hold list`` and is audited.
"""

from __future__ import annotations

from datetime import datetime, time

import click

from sip2d.circulation.rules import Terminal, hold
from sip2d.cli.common import CliState, now_utc, pass_state
from sip2d.cli.db import reading, writing
from sip2d.cli.patron import parse_option
from sip2d.storage import values
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.errors import NotFound
from sip2d.storage.holds import cancel_active_hold, list_holds
from sip2d.storage.queries import get_item_by_barcode, get_patron_by_barcode


@click.group(name="hold")
def command() -> None:
    """List, place and cancel holds."""


@command.command("list")
@click.option("--patron", "patron_barcode", help="Only this patron's holds.")
@click.option("--item", "item_barcode", help="Only holds on this item.")
@click.option("--all", "everything", is_flag=True, help="Also fulfilled and cancelled holds.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@pass_state
def list_(
    state: CliState,
    patron_barcode: str | None,
    item_barcode: str | None,
    everything: bool,
    limit: int,
) -> None:
    """List active holds (waiting or ready), oldest first."""
    with reading(state) as conn:
        patron_id = item_id = None
        if patron_barcode is not None:
            patron = get_patron_by_barcode(conn, patron_barcode)
            if patron is None:
                raise NotFound(f"no patron with barcode {values.shown(patron_barcode)}")
            patron_id = patron.id
        if item_barcode is not None:
            item = get_item_by_barcode(conn, item_barcode)
            if item is None:
                raise NotFound(f"no item with barcode {values.shown(item_barcode)}")
            item_id = item.id
        lines = list_holds(
            conn, patron_id=patron_id, item_id=item_id, active_only=not everything, limit=limit
        )
    if not lines:
        click.echo("no holds" if everything else "no active holds")
        return
    click.echo(
        f"{'ID':>6}  {'STATUS':<9} {'PATRON':<14} {'ITEM':<14} {'PICKUP':<10} {'PLACED':<10}  TITLE"
    )
    for line in lines:
        h = line.hold
        click.echo(
            f"{h.id:>6}  {h.status:<9} {line.patron_barcode:<14} {line.item_barcode or '-':<14} "
            f"{h.pickup_location or '-':<10} {h.created_at:%Y-%m-%d}  {h.title}"
        )


@command.command("place")
@click.argument("barcode")
@click.option("--item", "item_barcode", default="", help="Hold this copy.")
@click.option("--title", default="", help="Hold any copy of this title (a title hold).")
@click.option("--pickup", default="", help="Pickup location.")
@click.option("--expires", default="", metavar="YYYY-MM-DD", help="Last day the hold is wanted.")
@pass_state
def place(
    state: CliState, barcode: str, item_barcode: str, title: str, pickup: str, expires: str
) -> None:
    """Place a hold for patron BARCODE on an item (--item) or a title (--title)."""
    if bool(item_barcode) == bool(title):
        raise click.UsageError("give either --item or --title")
    where = parse_option("--pickup", lambda v: values.text(v, 64), pickup)
    last_day = parse_option("--expires", values.iso_date, expires)
    until = None if last_day is None else datetime.combine(last_day, time(23, 59, 59))
    terminal = Terminal(account_id=None, login=cli_actor(), location=where)
    with writing(state) as conn:
        result = hold(
            conn,
            terminal,
            "+",
            barcode,
            now_utc(),
            item_barcode=item_barcode,
            title=parse_option("--title", lambda v: values.text(v, 255), title),
            pickup_location=where,
            expires_at=until,
        )
    # The refusal is journalled (committed above), then reported.
    if not result.ok:
        raise click.ClickException(f"hold refused: {result.message}")
    target = f"item {item_barcode}" if item_barcode else f"title {values.shown(title)}"
    position = f", queue position {result.queue_position}" if result.queue_position else ""
    click.echo(f"hold for patron {barcode} on {target}: {result.message}{position}")


@command.command("cancel")
@click.argument("hold_id", type=int)
@pass_state
def cancel(state: CliState, hold_id: int) -> None:
    """Cancel active hold HOLD_ID (see `sip2d hold list`)."""
    with writing(state) as conn:
        cancelled = cancel_active_hold(conn, hold_id)
        if cancelled is None:
            raise NotFound(f"no active hold with id {hold_id}")
        record_audit(
            conn,
            actor=cli_actor(),
            action="hold.cancel",
            subject=f"hold:{hold_id}",
            detail={"status_was": cancelled.status, "title": cancelled.title},
        )
    click.echo(f"hold {hold_id} cancelled")
