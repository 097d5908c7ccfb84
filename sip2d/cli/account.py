"""`sip2d account` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="account")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d account' is not implemented yet")
