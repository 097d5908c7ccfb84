"""`sip2d patron`: staff operations on patron records, and how the CLI handles secrets.

Writes go through the ORM (one short transaction per command; the per-message hot path uses
Core elsewhere). A PIN is read without echo, twice, from the terminal, or as one line from
standard input with ``--pin-stdin`` for scripts; it is checked against the PIN policy, hashed,
and dropped. No command prints a PIN or a hash, and a refused PIN is reported by the rule it
broke, never by its value.

The secret helpers here (:func:`load_hasher`, :func:`load_policy`, :func:`read_secret`) are
shared by ``account``, ``import`` and ``demo``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TypeVar

import click
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sip2d.auth.hashing import PepperError, PinHasher
from sip2d.auth.policy import PinPolicy, PolicyError
from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import apply_update, open_database, reading, writing
from sip2d.storage import values
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.deletion import delete_patron
from sip2d.storage.edits import search_patrons, update_patron
from sip2d.storage.errors import AlreadyExists, NotFound
from sip2d.storage.models import BLOCKED_BY_STAFF, NOT_BLOCKED, Fee, Hold, Item, Loan, Patron
from sip2d.storage.records import PatronRecord
from sip2d.storage.sqltime import utcnow

T = TypeVar("T")


def load_hasher(state: CliState) -> PinHasher:
    try:
        return PinHasher.from_config(state.config.auth)
    except PepperError as exc:
        raise click.ClickException(str(exc)) from None


def load_policy(state: CliState) -> PinPolicy:
    try:
        return PinPolicy.from_config(state.config.pin_policy)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


def read_secret(what: str, from_stdin: bool) -> str:
    """A new secret: one line of stdin, or typed twice at a prompt that does not echo."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException(f"no {what} on standard input (expected one line)")
        return line
    typed = click.prompt(f"New {what}", hide_input=True, confirmation_prompt=f"Repeat the {what}")
    return str(typed)


def parse_option(option: str, parse: Callable[[str], T], raw: str) -> T:
    """Apply a :mod:`sip2d.storage.values` parser; its reason becomes a one-line error."""
    try:
        return parse(raw)
    except ValueError as exc:
        raise click.ClickException(f"{option}: {exc}") from None


def new_pin_hash(state: CliState, from_stdin: bool) -> str:
    """Read a PIN, check it against the policy and return its hash."""
    policy = load_policy(state)
    hasher = load_hasher(state)
    pin = read_secret("PIN", from_stdin)
    reason = policy.check(pin)
    if reason is not None:
        raise click.ClickException(f"PIN refused: {reason}")
    return hasher.hash(pin)


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d}"


def find_patron(session: Session, barcode: str) -> Patron:
    patron = session.scalars(select(Patron).where(Patron.barcode == barcode)).one_or_none()
    if patron is None:
        raise NotFound(f"no patron with barcode {values.shown(barcode)}")
    return patron


def _today() -> date:
    return datetime.now(UTC).date()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@click.group(name="patron")
def command() -> None:
    """Add, inspect, block and manage the PINs of patrons."""


@command.command("add")
@click.argument("barcode")
@click.option("--name", required=True, help="Full name as the kiosk shows it.")
@click.option("--email", default="", help="E-mail address.")
@click.option("--expires", default="", metavar="YYYY-MM-DD", help="Card expiry date.")
@click.option("--profile", default="adult", show_default=True, help="Loan policy profile.")
@click.option(
    "--language", default="000", show_default=True, metavar="CODE", help="SIP2 language code."
)
@click.option(
    "--pin-stdin",
    is_flag=True,
    help="Read the PIN as one line from standard input (default: no PIN; set one later).",
)
@pass_state
def add(
    state: CliState,
    barcode: str,
    name: str,
    email: str,
    expires: str,
    profile: str,
    language: str,
    pin_stdin: bool,
) -> None:
    """Add a patron. Without --pin-stdin the patron has no PIN until `patron set-pin`."""
    row = Patron(
        barcode=parse_option("barcode", values.barcode, barcode),
        name=parse_option("--name", lambda v: values.text(v, 255, required=True), name),
        email=parse_option("--email", lambda v: values.text(v, 255), email),
        expires_on=parse_option("--expires", values.iso_date, expires),
        profile=parse_option("--profile", lambda v: values.text(v, 32, required=True), profile),
        language=parse_option("--language", lambda v: values.digits_code(v, 3, "000"), language),
    )
    with open_database(state) as engine:
        with Session(engine) as session:
            if session.scalar(select(Patron.id).where(Patron.barcode == row.barcode)):
                raise AlreadyExists(f"patron {row.barcode} already exists")
        row.pin_hash = new_pin_hash(state, from_stdin=True) if pin_stdin else None
        row.pin_must_change = row.pin_hash is None
        try:
            writer = engine.execution_options(sqlite_write=True)
            with Session(writer, expire_on_commit=False) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"patron {row.barcode} already exists") from None
    pin_note = "PIN set" if row.pin_hash else "no PIN yet (sip2d patron set-pin)"
    click.echo(f"added patron {row.barcode} ({row.name}); {pin_note}")


@command.command("show")
@click.argument("barcode")
@pass_state
def show(state: CliState, barcode: str) -> None:
    """Show one patron (never the PIN or its hash)."""
    with open_database(state) as engine, Session(engine) as session:
        p = find_patron(session, barcode)
        open_loans = session.execute(
            select(Item.barcode, Loan.due_at)
            .join(Item, Item.id == Loan.item_id)
            .where(Loan.patron_id == p.id, Loan.returned_at.is_(None))
            .order_by(Loan.due_at)
        ).all()
        active_holds = session.execute(
            select(Hold.status, Hold.title, Item.barcode)
            .outerjoin(Item, Item.id == Hold.item_id)
            .where(Hold.patron_id == p.id, Hold.status.in_(["waiting", "ready"]))
            .order_by(Hold.created_at)
        ).all()
        unpaid = session.scalar(
            select(func.count()).where(Fee.patron_id == p.id, Fee.paid_cents < Fee.amount_cents)
        )
    today, now = _today(), _now()
    expires = "never" if p.expires_on is None else p.expires_on.isoformat()
    if p.expires_on is not None and p.expires_on < today:
        expires += " (expired)"
    locked = p.pin_locked_until is not None and p.pin_locked_until > now
    lines = [
        ("barcode", p.barcode),
        ("name", p.name),
        ("email", p.email or "-"),
        ("language", p.language),
        ("profile", p.profile),
        ("expires", expires),
        ("blocked", _block_text(p)),
        ("fines", f"{money(p.fine_balance_cents)} ({unpaid} unpaid fee(s))"),
        ("loan limit", "from loan policy" if p.loan_limit is None else str(p.loan_limit)),
        (
            "PIN",
            ("set" if p.pin_hash else "not set") + (", must change" if p.pin_must_change else ""),
        ),
        (
            "PIN failures",
            f"{p.pin_failures}"
            + (f", locked until {p.pin_locked_until:%Y-%m-%d %H:%M} UTC" if locked else ""),
        ),
        ("loans", f"{len(open_loans)} open"),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<14}{value}")
    for item_barcode, due in open_loans:
        late = " OVERDUE" if due < now else ""
        click.echo(f"{'':<14}{item_barcode} due {due:%Y-%m-%d}{late}")
    click.echo(f"{'holds:':<14}{len(active_holds)} active")
    for status, title, item_barcode in active_holds:
        click.echo(f"{'':<14}{status}: {item_barcode or '-'} {title}")


def _block_text(p: Patron) -> str:
    if not p.blocked:
        return "no"
    # Who set it tells staff whether a kiosk could lift it again (only a kiosk's block).
    return f"yes, by {p.block_source or 'unknown'}: {p.block_reason or 'no reason given'}"


@command.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@pass_state
def list_(state: CliState, limit: int) -> None:
    """List patrons by barcode."""
    with open_database(state) as engine, Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Patron)) or 0
        rows = session.scalars(select(Patron).order_by(Patron.barcode).limit(limit)).all()
    _print_patrons(rows)
    if total > len(rows):
        click.echo(f"({total - len(rows)} more; use --limit)")


def _print_patrons(rows: Sequence[Patron | PatronRecord]) -> None:
    today, now = _today(), _now()
    click.echo(f"{'BARCODE':<16} {'EXPIRES':<10}  {'FLAGS':<24} NAME")
    for p in rows:
        flags = []
        if p.blocked:
            flags.append("blocked")
        if p.expires_on is not None and p.expires_on < today:
            flags.append("expired")
        if p.fine_balance_cents:
            flags.append("fines")
        if not p.pin_hash:
            flags.append("no-pin")
        if p.pin_locked_until is not None and p.pin_locked_until > now:
            flags.append("locked")
        expires = p.expires_on.isoformat() if p.expires_on else "-"
        click.echo(f"{p.barcode:<16} {expires:<10}  {','.join(flags) or '-':<24} {p.name}")


def _update(state: CliState, barcode: str, change: Callable[[Patron], None]) -> None:
    with (
        open_database(state) as engine,
        Session(engine.execution_options(sqlite_write=True)) as session,
        session.begin(),
    ):
        patron = find_patron(session, barcode)
        change(patron)
        patron.updated_at = utcnow()


@command.command("block")
@click.argument("barcode")
@click.option("--reason", default="", help="Shown to staff, not to the patron.")
@pass_state
def block(state: CliState, barcode: str, reason: str) -> None:
    """Block a patron from borrowing at kiosks; a kiosk's 25 Patron Enable cannot lift it."""
    text = parse_option("--reason", lambda v: values.text(v, 255), reason)

    def change(p: Patron) -> None:
        # Staff's block, whoever set the one it replaces: a kiosk may no longer lift it.
        p.blocked = True
        p.block_reason = text
        p.block_source = BLOCKED_BY_STAFF

    _update(state, barcode, change)
    click.echo(f"patron {barcode} blocked")


@command.command("unblock")
@click.argument("barcode")
@pass_state
def unblock(state: CliState, barcode: str) -> None:
    """Lift a block, whoever set it (staff may lift a kiosk's or a policy's block)."""

    def change(p: Patron) -> None:
        p.blocked = False
        p.block_reason = ""
        p.block_source = NOT_BLOCKED

    _update(state, barcode, change)
    click.echo(f"patron {barcode} unblocked")


@command.command("set-pin")
@click.argument("barcode")
@click.option("--pin-stdin", is_flag=True, help="Read the PIN as one line from standard input.")
@pass_state
def set_pin(state: CliState, barcode: str, pin_stdin: bool) -> None:
    """Set a patron's PIN (asked twice, not echoed). Clears failures and any lock."""
    with open_database(state) as engine, Session(engine) as session:
        find_patron(session, barcode)  # fail on a wrong barcode before asking for a PIN
    pin_hash = new_pin_hash(state, pin_stdin)

    def change(p: Patron) -> None:
        p.pin_hash = pin_hash
        p.pin_must_change = False
        p.pin_failures = 0
        p.pin_locked_until = None

    _update(state, barcode, change)
    click.echo(f"PIN set for patron {barcode}")


@command.command("reset-pin")
@click.argument("barcode")
@pass_state
def reset_pin(state: CliState, barcode: str) -> None:
    """Remove a patron's PIN; they must set a new one before using a kiosk."""

    def change(p: Patron) -> None:
        p.pin_hash = None
        p.pin_must_change = True
        p.pin_failures = 0
        p.pin_locked_until = None

    _update(state, barcode, change)
    click.echo(f"PIN removed for patron {barcode}; a new one must be set")


@command.command("unlock")
@click.argument("barcode")
@pass_state
def unlock(state: CliState, barcode: str) -> None:
    """Clear failed PIN attempts and the lock they caused."""

    def change(p: Patron) -> None:
        p.pin_failures = 0
        p.pin_locked_until = None

    _update(state, barcode, change)
    click.echo(f"patron {barcode} unlocked")


def _loan_limit(raw: str) -> int | None:
    """A loan limit for one patron, or ``policy`` to take it from the loan policy again."""
    return None if raw.strip().lower() == "policy" else values.optional_count(raw)


@command.command("update")
@click.argument("barcode")
@click.option("--name", help="Full name as the kiosk shows it.")
@click.option("--email", help="E-mail address ('' to remove).")
@click.option("--phone", help="Telephone number ('' to remove).")
@click.option("--address", help="Postal address ('' to remove).")
@click.option("--expires", metavar="YYYY-MM-DD", help="Card expiry date ('' for never).")
@click.option("--profile", help="Loan policy profile.")
@click.option("--language", metavar="CODE", help="SIP2 language code.")
@click.option(
    "--loan-limit", metavar="N|policy", help="Open loans allowed, or 'policy' for the policy's."
)
@pass_state
def update(state: CliState, /, barcode: str, **given: str | None) -> None:
    """Change the fields given and leave the others as they are (PINs: `set-pin`)."""
    parsers: dict[str, tuple[str, Callable[[str], object]]] = {
        "name": ("name", lambda v: values.text(v, 255, required=True)),
        "email": ("email", lambda v: values.text(v, 255)),
        "phone": ("phone", lambda v: values.text(v, 64)),
        "address": ("address", lambda v: values.text(v, 255)),
        "expires": ("expires_on", values.iso_date),
        "profile": ("profile", lambda v: values.text(v, 32, required=True)),
        "language": ("language", lambda v: values.digits_code(v, 3, "000")),
        "loan_limit": ("loan_limit", _loan_limit),
    }
    changes = {
        column: parse_option("--" + option.replace("_", "-"), parse, raw)
        for option, (column, parse) in parsers.items()
        if (raw := given[option]) is not None
    }
    apply_update(state, "patron", barcode, changes, update_patron)


@command.command("delete")
@click.argument("barcode")
@click.option(
    "--force",
    is_flag=True,
    help="Delete even with open loans or unpaid fees (they are deleted with the patron).",
)
@pass_state
def delete(state: CliState, barcode: str, force: bool) -> None:
    """Delete a patron with their loan history, holds and paid fees.

    Refused while the patron has open loans or unpaid fees, unless --force.
    """
    with writing(state) as conn:
        gone = delete_patron(conn, barcode, force=force)
        record_audit(
            conn,
            actor=cli_actor(),
            action="patron.delete",
            subject=f"patron:{barcode}",
            detail={**gone, "forced": force},
        )
    lost = []
    if gone["open_loans"]:
        lost.append(f"{gone['open_loans']} open loan(s)")
    if gone["unpaid_fees"]:
        lost.append(f"{money(gone['unpaid_cents'])} unpaid")
    extra = f" (forced: {' and '.join(lost)} went with it)" if lost else ""
    click.echo(f"patron {barcode} deleted{extra}")


@command.command("search")
@click.argument("name")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@pass_state
def search(state: CliState, name: str, limit: int) -> None:
    """Find patrons whose name contains NAME (any case)."""
    words = parse_option("NAME", lambda v: values.text(v, 255, required=True), name)
    with reading(state) as conn:
        rows, total = search_patrons(conn, words, limit)
    if not rows:
        click.echo(f"no patron's name contains {values.shown(words)}")
        return
    _print_patrons(rows)
    if total > len(rows):
        click.echo(f"({total - len(rows)} more; use --limit)")
