"""`sip2d db` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="db")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d db' is not implemented yet")
