"""`sip2d fee`: what patrons owe, charging a fee by hand, and waiving one.

Every change keeps the patron's balance equal to their unpaid fees (the storage functions do
both in one transaction) and is audited: who charged or waived how much, on which fee. Kiosks
pay fees with 37 Fee Paid; these commands are for the desk.
"""

from __future__ import annotations

import click

from sip2d.cli.common import CliState, now_utc, pass_state
from sip2d.cli.db import reading, writing
from sip2d.cli.patron import money, parse_option
from sip2d.storage import values
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.errors import NotFound
from sip2d.storage.fees import add_fee, list_fees, waive_fee
from sip2d.storage.queries import get_item_by_barcode, get_patron_by_barcode

# SIP2 fee types (reference 5.6), for people reading `fee list`.
FEE_TYPES = {
    "01": "other",
    "02": "administrative",
    "03": "damage",
    "04": "overdue",
    "05": "processing",
    "06": "rental",
    "07": "replacement",
    "08": "computer access",
    "09": "hold fee",
}


@click.group(name="fee")
def command() -> None:
    """List, add and waive the fees patrons owe."""


@command.command("list")
@click.argument("barcode", required=False)
@click.option("--all", "include_paid", is_flag=True, help="Also fees paid or waived in full.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
@pass_state
def list_(state: CliState, barcode: str | None, include_paid: bool, limit: int) -> None:
    """List unpaid fees, of one patron (BARCODE) or of everyone, oldest first."""
    with reading(state) as conn:
        patron_id = None
        if barcode is not None:
            patron = get_patron_by_barcode(conn, barcode)
            if patron is None:
                raise NotFound(f"no patron with barcode {values.shown(barcode)}")
            patron_id = patron.id
        lines = list_fees(conn, patron_id=patron_id, unpaid_only=not include_paid, limit=limit)
    if not lines:
        click.echo("no fees" if include_paid else "no unpaid fees")
        return
    click.echo(
        f"{'ID':>6}  {'PATRON':<14} {'ITEM':<14} {'TYPE':<14} {'AMOUNT':>9} {'OWED':>9}  "
        f"{'DATE':<10}  DESCRIPTION"
    )
    for line in lines:
        fee = line.fee
        kind = f"{fee.fee_type} {FEE_TYPES.get(fee.fee_type, '')}".strip()
        click.echo(
            f"{fee.id:>6}  {line.patron_barcode:<14} {line.item_barcode or '-':<14} {kind:<14} "
            f"{money(fee.amount_cents):>9} {money(fee.outstanding_cents):>9}  "
            f"{fee.created_at:%Y-%m-%d}  {fee.description}"
        )


@command.command("add")
@click.argument("barcode")
@click.argument("amount")
@click.option(
    "--type",
    "fee_type",
    default="01",
    show_default=True,
    type=click.Choice(sorted(FEE_TYPES)),
    help="SIP2 fee type: " + ", ".join(f"{k} {v}" for k, v in FEE_TYPES.items()) + ".",
)
@click.option("--item", "item_barcode", help="The item the fee is for.")
@click.option("--description", default="", help="Shown to staff and on the patron's record.")
@pass_state
def add(
    state: CliState,
    barcode: str,
    amount: str,
    fee_type: str,
    item_barcode: str | None,
    description: str,
) -> None:
    """Charge patron BARCODE a fee of AMOUNT (e.g. 2.50)."""
    cents = parse_option("AMOUNT", values.amount_cents, amount)
    if cents <= 0:
        raise click.ClickException("AMOUNT: must be more than 0")
    text = parse_option("--description", lambda v: values.text(v, 255), description)
    with writing(state) as conn:
        patron = get_patron_by_barcode(conn, barcode)
        if patron is None:
            raise NotFound(f"no patron with barcode {values.shown(barcode)}")
        item_id = None
        if item_barcode is not None:
            item = get_item_by_barcode(conn, item_barcode)
            if item is None:
                raise NotFound(f"no item with barcode {values.shown(item_barcode)}")
            item_id = item.id
        currency = state.config.server.currency
        fee_id = add_fee(
            conn,
            patron_id=patron.id,
            item_id=item_id,
            fee_type=fee_type,
            cents=cents,
            currency=currency,
            description=text,
            at=now_utc(),
        )
        record_audit(
            conn,
            actor=cli_actor(),
            action="fee.add",
            subject=f"patron:{barcode}",
            detail={"fee": fee_id, "cents": cents, "fee_type": fee_type, "item": item_barcode},
        )
    click.echo(f"fee {fee_id} of {money(cents)} {currency} added for patron {barcode}")


@command.command("waive")
@click.argument("fee_id", type=int)
@click.option("--reason", default="", help="Why (kept in the audit trail).")
@pass_state
def waive(state: CliState, fee_id: int, reason: str) -> None:
    """Forgive what is still owed on fee FEE_ID (see `sip2d fee list`)."""
    why = parse_option("--reason", lambda v: values.text(v, 255), reason)
    with writing(state) as conn:
        forgiven = waive_fee(conn, fee_id, now_utc())
        if forgiven is None:
            raise NotFound(f"no fee with id {fee_id}")
        if forgiven == 0:
            raise click.ClickException(f"fee {fee_id} is paid already; nothing to waive")
        record_audit(
            conn,
            actor=cli_actor(),
            action="fee.waive",
            subject=f"fee:{fee_id}",
            detail={"cents": forgiven, "reason": why},
        )
    click.echo(f"fee {fee_id}: {money(forgiven)} waived")
