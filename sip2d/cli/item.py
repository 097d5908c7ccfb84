"""`sip2d item`: add and inspect the items kiosks lend.

Bulk loads belong to `sip2d import items`; these commands are for the odd new copy and for
looking at one item's state (where it is, who has it, who waits for it) when a kiosk and a
patron disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import click
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import apply_update, open_database, writing
from sip2d.cli.patron import money, parse_option
from sip2d.storage import values
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.deletion import delete_item
from sip2d.storage.edits import update_item
from sip2d.storage.errors import AlreadyExists, NotFound
from sip2d.storage.models import Hold, Item, Loan, Patron

# SIP2 circulation status (reference 5.4), for people reading `item show`.
CIRCULATION_STATUS = {
    "01": "other",
    "02": "on order",
    "03": "available",
    "04": "charged",
    "05": "charged (no recall until earliest recall date)",
    "06": "in process",
    "07": "recalled",
    "08": "waiting on hold shelf",
    "09": "waiting to be re-shelved",
    "10": "in transit",
    "11": "claimed returned",
    "12": "lost",
    "13": "missing",
}


@click.group(name="item")
def command() -> None:
    """Add and inspect items."""


@command.command("add")
@click.argument("barcode")
@click.option("--title", required=True)
@click.option("--author", default="")
@click.option(
    "--media-type",
    default="001",
    show_default=True,
    metavar="CODE",
    help="SIP2 media type: 000 other, 001 book, 002 magazine, 005 video, 006 CD, ...",
)
@click.option("--location", default="", help="Shelving location (permanent and current).")
@click.option("--call-number", default="")
@pass_state
def add(
    state: CliState,
    barcode: str,
    title: str,
    author: str,
    media_type: str,
    location: str,
    call_number: str,
) -> None:
    """Add an item, available for loan."""
    place = parse_option("--location", lambda v: values.text(v, 64), location)
    row = Item(
        barcode=parse_option("barcode", values.barcode, barcode),
        title=parse_option("--title", lambda v: values.text(v, 255, required=True), title),
        author=parse_option("--author", lambda v: values.text(v, 255), author),
        media_type=parse_option(
            "--media-type", lambda v: values.digits_code(v, 3, "001"), media_type
        ),
        permanent_location=place,
        current_location=place,
        call_number=parse_option("--call-number", lambda v: values.text(v, 64), call_number),
    )
    with open_database(state) as engine:
        try:
            writer = engine.execution_options(sqlite_write=True)
            with Session(writer, expire_on_commit=False) as session, session.begin():
                if session.scalar(select(Item.id).where(Item.barcode == row.barcode)):
                    raise AlreadyExists(f"item {row.barcode} already exists")
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"item {row.barcode} already exists") from None
    click.echo(f"added item {row.barcode} ({row.title})")


@command.command("show")
@click.argument("barcode")
@pass_state
def show(state: CliState, barcode: str) -> None:
    """Show one item, its loan and its holds."""
    with open_database(state) as engine, Session(engine) as session:
        item = session.scalars(select(Item).where(Item.barcode == barcode)).one_or_none()
        if item is None:
            raise NotFound(f"no item with barcode {values.shown(barcode)}")
        loan = session.execute(
            select(Patron.barcode, Loan.checked_out_at, Loan.due_at, Loan.renewals)
            .join(Patron, Patron.id == Loan.patron_id)
            .where(Loan.item_id == item.id, Loan.returned_at.is_(None))
        ).first()
        queue = session.execute(
            select(Hold.status, Patron.barcode)
            .join(Patron, Patron.id == Hold.patron_id)
            .where(Hold.item_id == item.id, Hold.status.in_(["waiting", "ready"]))
            .order_by((Hold.status == "ready").desc(), Hold.created_at)
        ).all()
    status = CIRCULATION_STATUS.get(item.circulation_status, "unknown")
    lines = [
        ("barcode", item.barcode),
        ("title", item.title),
        ("author", item.author or "-"),
        ("media type", item.media_type),
        ("call number", item.call_number or "-"),
        ("location", f"{item.permanent_location or '-'} (now: {item.current_location or '-'})"),
        ("status", f"{item.circulation_status} {status}"),
    ]
    if item.checkout_fee_cents:
        lines.append(("checkout fee", money(item.checkout_fee_cents)))
    if loan is None:
        lines.append(("loan", "not on loan"))
    else:
        now = datetime.now(UTC).replace(tzinfo=None)
        late = " OVERDUE" if loan.due_at < now else ""
        lines.append(
            (
                "loan",
                f"to patron {loan.barcode} since {loan.checked_out_at:%Y-%m-%d}, "
                f"due {loan.due_at:%Y-%m-%d}{late}, renewed {loan.renewals}x",
            )
        )
    lines.append(("holds", f"{len(queue)} active"))
    for label, value in lines:
        click.echo(f"{label + ':':<14}{value}")
    for hold_status, patron_barcode in queue:
        click.echo(f"{'':<14}{hold_status}: patron {patron_barcode}")


@command.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@pass_state
def list_(state: CliState, limit: int) -> None:
    """List items by barcode."""
    with open_database(state) as engine, Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Item)) or 0
        rows = session.scalars(select(Item).order_by(Item.barcode).limit(limit)).all()
    click.echo(f"{'BARCODE':<16} {'MEDIA':<5} {'STATUS':<22} TITLE")
    for item in rows:
        status = CIRCULATION_STATUS.get(item.circulation_status, item.circulation_status)
        click.echo(f"{item.barcode:<16} {item.media_type:<5} {status:<22} {item.title}")
    if total > len(rows):
        click.echo(f"({total - len(rows)} more; use --limit)")


@command.command("update")
@click.argument("barcode")
@click.option("--title")
@click.option("--author")
@click.option("--media-type", metavar="CODE", help="SIP2 media type (3 digits).")
@click.option("--location", help="Shelving location (permanent; current follows on checkin).")
@click.option("--current-location", help="Where the item is now.")
@click.option("--call-number")
@click.option("--holding-library")
@click.option(
    "--status",
    metavar="CODE",
    help="SIP2 circulation status, 01-13 (e.g. 12 lost, 13 missing, 03 available).",
)
@click.option("--checkout-fee", metavar="AMOUNT", help="Fee to borrow it, e.g. 1.00 (0: none).")
@pass_state
def update(state: CliState, /, barcode: str, **given: str | None) -> None:
    """Change the fields given and leave the others as they are."""
    parsers: dict[str, tuple[str, Callable[[str], object]]] = {
        "title": ("title", lambda v: values.text(v, 255, required=True)),
        "author": ("author", lambda v: values.text(v, 255)),
        "media_type": ("media_type", lambda v: values.code_in_range(v, 3, "001", 0, 999)),
        "location": ("permanent_location", lambda v: values.text(v, 64)),
        "current_location": ("current_location", lambda v: values.text(v, 64)),
        "call_number": ("call_number", lambda v: values.text(v, 64)),
        "holding_library": ("holding_library", lambda v: values.text(v, 64)),
        "status": ("circulation_status", lambda v: values.code_in_range(v, 2, "03", 1, 13)),
        "checkout_fee": ("checkout_fee_cents", values.amount_cents),
    }
    changes = {
        column: parse_option("--" + option.replace("_", "-"), parse, raw)
        for option, (column, parse) in parsers.items()
        if (raw := given[option]) is not None
    }
    apply_update(state, "item", barcode, changes, update_item)


@command.command("delete")
@click.argument("barcode")
@click.option(
    "--force",
    is_flag=True,
    help="Delete even when on loan or owed for (the loan and holds go; fees stay, unlinked).",
)
@pass_state
def delete(state: CliState, barcode: str, force: bool) -> None:
    """Delete an item with its loan history and holds; fees charged for it stay with the patron.

    Refused while it is on loan or has unpaid fees, unless --force.
    """
    with writing(state) as conn:
        gone = delete_item(conn, barcode, force=force)
        record_audit(
            conn,
            actor=cli_actor(),
            action="item.delete",
            subject=f"item:{barcode}",
            detail={**gone, "forced": force},
        )
    forced = " (forced: it was on loan)" if gone["open_loans"] else ""
    click.echo(f"item {barcode} deleted{forced}")
