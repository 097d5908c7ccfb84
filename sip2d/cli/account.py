"""`sip2d account`: the kiosk (SC) accounts that log in with 93.

Each account carries what the daemon needs to talk to that kind of kiosk (institution,
location, wire encoding, checksum mode, line terminator), where it may connect from, which
message families it may use, and whether its off-line (no block = Y) transactions are taken as
such. A permission is off by default where the model's column default says so: the families
that change a patron or an item beyond a loan, and off-line transactions, which skip the
on-line checks. The CLI reads those defaults instead of keeping its own list.

Passwords are hashed with the same peppered argon2id as PINs, read without echo (or one line of
stdin with ``--password-stdin``) and never printed. The PIN policy does not apply (kiosk
passwords are machine secrets), but a password must be sendable in a SIP2 field: no ``|`` and
no control characters.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import open_database, writing
from sip2d.cli.patron import load_hasher, parse_option, read_secret
from sip2d.protocol.charset import SUPPORTED_ENCODINGS
from sip2d.storage import values
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.deletion import delete_account
from sip2d.storage.errors import AlreadyExists, NotFound
from sip2d.storage.models import KioskAccount, kiosk_accounts

# Permission name on the command line -> column.
PERMISSIONS = {
    "checkout": "can_checkout",
    "checkin": "can_checkin",
    "renew": "can_renew",
    "fee-paid": "can_fee_paid",
    "hold": "can_hold",
    "block-patron": "can_block_patron",
    "enable-patron": "can_enable_patron",
    "item-status": "can_item_status",
    "offline": "can_offline",
}
# Old names still accepted, with a warning, for the permissions they were split into; scripts
# written before the split keep granting exactly what they granted.
ALIASES = {"status-update": ("block-patron", "enable-patron", "item-status")}
SHORT_PASSWORD = 8


def _login(raw: str) -> str:
    login = values.text(raw, 64, required=True)
    if any(ch.isspace() for ch in login):
        raise ValueError(f"{values.shown(login)} contains a space")
    return login


def _password_hash(state: CliState, from_stdin: bool) -> str:
    hasher = load_hasher(state)
    password = read_secret("kiosk password", from_stdin)
    if any(ch == "|" or ord(ch) < 32 or ch == "\x7f" for ch in password):
        raise click.ClickException(
            "password refused: it contains '|' or a control character, "
            "which a SIP2 login message cannot carry"
        )
    if len(password) < SHORT_PASSWORD:
        click.echo(
            f"warning: a kiosk password shorter than {SHORT_PASSWORD} characters is easy to guess",
            err=True,
        )
    return hasher.hash(password)


def _find(session: Session, login: str) -> KioskAccount:
    account = session.scalars(select(KioskAccount).where(KioskAccount.login == login)).one_or_none()
    if account is None:
        raise NotFound(f"no kiosk account with login {values.shown(login)}")
    return account


def permissions_of(account: KioskAccount) -> list[str]:
    return [name for name, column in PERMISSIONS.items() if getattr(account, column)]


def granted_by_default(name: str) -> bool:
    """Whether a new account has ``name`` unless denied: the model's column default decides."""
    default = kiosk_accounts.c[PERMISSIONS[name]].default
    return default is not None and bool(getattr(default, "arg", False))


OFF_BY_DEFAULT = [name for name in PERMISSIONS if not granted_by_default(name)]


def _expand_aliases(names: tuple[str, ...]) -> set[str]:
    expanded: set[str] = set()
    for name in names:
        expanded.update(ALIASES.get(name, (name,)))
    return expanded


def _warn_about_aliases(*given: tuple[str, ...]) -> None:
    # One line per old name, however often it was given.
    for old in sorted({name for names in given for name in names if name in ALIASES}):
        *first, last = ALIASES[old]
        click.echo(
            f"warning: permission {old!r} is deprecated; use {', '.join(first)} and {last}",
            err=True,
        )


@click.group(name="account")
def command() -> None:
    """Manage kiosk (SC) login accounts."""


@command.command("add")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line of stdin.")
@click.option("--institution", default=None, help="Institution id (default: server's).")
@click.option("--location", default="", help="Location code of the kiosk.")
@click.option(
    "--encoding",
    type=click.Choice(SUPPORTED_ENCODINGS),
    default="utf-8",
    show_default=True,
    help="Character set the kiosk uses on the wire.",
)
@click.option(
    "--error-detection",
    type=click.Choice(["auto", "required", "off"]),
    default="auto",
    show_default=True,
    help="Checksums: mirror the kiosk, require them, or never send them.",
)
@click.option(
    "--terminator",
    type=click.Choice(["CR", "CRLF"], case_sensitive=False),
    default="CR",
    show_default=True,
    help="Line ending of responses.",
)
@click.option(
    "--allow-network",
    "networks",
    multiple=True,
    metavar="CIDR",
    help="Client network allowed to use this login (repeatable; default: anywhere).",
)
@click.option(
    "--deny",
    multiple=True,
    metavar="PERM",
    type=click.Choice([*PERMISSIONS, *ALIASES]),
    help="Permission this kiosk does not get (repeatable).",
)
@click.option(
    "--allow",
    multiple=True,
    metavar="PERM",
    type=click.Choice([*PERMISSIONS, *ALIASES]),
    help=f"Grant a permission that is off by default: {', '.join(OFF_BY_DEFAULT)} (repeatable).",
)
@pass_state
def add(
    state: CliState,
    login: str,
    password_stdin: bool,
    institution: str | None,
    location: str,
    encoding: str,
    error_detection: str,
    terminator: str,
    networks: tuple[str, ...],
    deny: tuple[str, ...],
    allow: tuple[str, ...],
) -> None:
    """Add a kiosk account; asks for its password twice unless --password-stdin.

    \b
    PERM is one of: checkout, checkin, renew, fee-paid, hold (granted unless denied);
    block-patron (01), enable-patron (25, lifts only a kiosk's block), item-status (19) and
    offline (take no-block transactions as off-line ones), off unless allowed.
    status-update is a deprecated name for block-patron, enable-patron and item-status.
    """
    _warn_about_aliases(allow, deny)
    denied, allowed = _expand_aliases(deny), _expand_aliases(allow)
    both = sorted(denied & allowed, key=list(PERMISSIONS).index)
    if both:
        raise click.ClickException(f"both allowed and denied: {', '.join(both)}")
    account = KioskAccount(
        login=parse_option("login", _login, login),
        institution_id=parse_option(
            "--institution",
            lambda v: values.text(v, 64, required=True),
            institution if institution is not None else state.config.server.institution_id,
        ),
        location_code=parse_option("--location", lambda v: values.text(v, 64), location),
        encoding=encoding,
        error_detection=error_detection,
        terminator=terminator.upper(),
        allowed_networks=",".join(
            parse_option("--allow-network", values.network, n) for n in networks
        ),
        enabled=True,
    )
    for name, column in PERMISSIONS.items():
        granted = name in allowed or (granted_by_default(name) and name not in denied)
        setattr(account, column, granted)
    with open_database(state) as engine:
        with Session(engine) as session:
            if session.scalar(select(KioskAccount.id).where(KioskAccount.login == account.login)):
                raise AlreadyExists(f"kiosk account {account.login} already exists")
        account.password_hash = _password_hash(state, password_stdin)
        try:
            writer = engine.execution_options(sqlite_write=True)
            with Session(writer, expire_on_commit=False) as session, session.begin():
                session.add(account)
        except IntegrityError:
            raise AlreadyExists(f"kiosk account {account.login} already exists") from None
    click.echo(
        f"added kiosk account {account.login} (institution {account.institution_id}; "
        f"may: {', '.join(permissions_of(account)) or 'nothing'})"
    )


@command.command("list")
@pass_state
def list_(state: CliState) -> None:
    """List kiosk accounts (never their passwords)."""
    with open_database(state) as engine, Session(engine) as session:
        accounts = session.scalars(select(KioskAccount).order_by(KioskAccount.login)).all()
    if not accounts:
        click.echo("no kiosk accounts (add one with `sip2d account add LOGIN`)")
        return
    for a in accounts:
        state_text = "enabled" if a.enabled else "DISABLED"
        click.echo(
            f"{a.login}: {state_text}; institution {a.institution_id}, "
            f"location {a.location_code or '-'}, {a.encoding}, checksums {a.error_detection}, "
            f"terminator {a.terminator}; networks {a.allowed_networks or 'any'}; "
            f"may: {', '.join(permissions_of(a)) or 'nothing'}"
            + ("; checked-in-ok" if a.checked_in_ok else "")
        )


def _update(state: CliState, login: str, change: Callable[[KioskAccount], None]) -> None:
    with (
        open_database(state) as engine,
        Session(engine.execution_options(sqlite_write=True)) as session,
        session.begin(),
    ):
        change(_find(session, login))


@command.command("disable")
@click.argument("login")
@pass_state
def disable(state: CliState, login: str) -> None:
    """Refuse further logins with this account."""

    def change(a: KioskAccount) -> None:
        a.enabled = False

    _update(state, login, change)
    click.echo(f"kiosk account {login} disabled")


@command.command("enable")
@click.argument("login")
@pass_state
def enable(state: CliState, login: str) -> None:
    """Allow logins with this account again."""

    def change(a: KioskAccount) -> None:
        a.enabled = True

    _update(state, login, change)
    click.echo(f"kiosk account {login} enabled")


@command.command("passwd")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line of stdin.")
@pass_state
def passwd(state: CliState, login: str, password_stdin: bool) -> None:
    """Set a new password for a kiosk account."""
    with open_database(state) as engine, Session(engine) as session:
        _find(session, login)  # fail on a wrong login before asking for a password
    new_hash = _password_hash(state, password_stdin)

    def change(a: KioskAccount) -> None:
        a.password_hash = new_hash

    _update(state, login, change)
    click.echo(f"password changed for kiosk account {login}")


@command.command("checked-in-ok")
@click.argument("login")
@click.argument("answer", type=click.Choice(["on", "off"]))
@pass_state
def checked_in_ok(state: CliState, login: str, answer: str) -> None:
    """How a 09 Checkin of an item that is not on loan is answered to this kiosk.

    \b
    off (the default, as Koha and Evergreen answer): ok=0 with "This item was not checked out."
    on (Koha's checked_in_ok): ok=1, for kiosks that hold a returned item back on ok=0.
    Either way the item is checked in and routed. Takes effect at the kiosk's next login.
    """
    wanted = answer == "on"

    def change(a: KioskAccount) -> None:
        a.checked_in_ok = wanted

    _update(state, login, change)
    click.echo(f"kiosk account {login}: a checkin of an item not on loan answers ok={int(wanted)}")


@command.command("delete")
@click.argument("login")
@pass_state
def delete(state: CliState, login: str) -> None:
    """Delete a kiosk account; its loans and payments keep their history without the link.

    A kiosk already logged in keeps its connection until it ends; `disable` refuses new logins
    and can be undone.
    """
    with writing(state) as conn:
        gone = delete_account(conn, login)
        record_audit(
            conn,
            actor=cli_actor(),
            action="account.delete",
            subject=f"account:{login}",
            detail=gone,
        )
    click.echo(f"kiosk account {login} deleted")
