"""`sip2d throttle`: see and lift the guessing limits on addresses, kiosk accounts and patrons.

A vendor's test run or a mistyped kiosk password can block a branch's address for the whole
block window; ``clear`` lifts it at once on every daemon sharing the database. Each clear is
audited. Nothing here shows a PIN, a password or a login name typed into a 93 (those are kept
only as keyed digests).
"""

from __future__ import annotations

import click

from sip2d.cli.common import CliState, now_utc, pass_state
from sip2d.cli.db import reading, writing
from sip2d.storage.audit import cli_actor, record_audit
from sip2d.storage.errors import NotFound
from sip2d.storage.throttles import KINDS, clear_throttle, list_throttles


@click.group(name="throttle")
def command() -> None:
    """List and clear failed-PIN and failed-login limits."""


@command.command("list")
@pass_state
def list_(state: CliState) -> None:
    """Sources and patrons with failures that still count, and whether they are blocked."""
    now = now_utc()
    with reading(state) as conn:
        lines = list_throttles(conn, state.config.throttle, now)
    if not lines:
        click.echo("no failures on record: nothing is slowed, blocked or locked")
        return
    click.echo(f"{'KIND':<8} {'KEY':<24} {'LIMIT':<10} {'FAILURES':>8}  STATE")
    for line in lines:
        if line.blocked_until is not None:
            word = "locked" if line.kind == "patron" else "blocked"
            status = f"{word} until {line.blocked_until:%Y-%m-%d %H:%M:%S} UTC"
        else:
            status = "counting"
        click.echo(f"{line.kind:<8} {line.key:<24} {line.what:<10} {line.failures:>8}  {status}")


@command.command("clear")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("key")
@pass_state
def clear(state: CliState, kind: str, key: str) -> None:
    """Forget the failures of one address (IP), kiosk account (login) or patron (barcode).

    \b
    Examples:
      sip2d throttle clear address 10.1.2.3
      sip2d throttle clear account branch-kiosk-3
      sip2d throttle clear patron 2000001
    """
    with writing(state) as conn:
        cleared = clear_throttle(conn, kind, key)
        if kind == "patron" and cleared == 0:
            raise NotFound(f"no patron with barcode {key!r}")
        record_audit(
            conn,
            actor=cli_actor(),
            action="throttle.clear",
            subject=f"{kind}:{key}",
            detail={"records": cleared},
        )
    if kind == "patron":
        click.echo(f"patron {key}: PIN failures and lock cleared")
    else:
        click.echo(f"{kind} {key}: {cleared} failure record(s) cleared")
