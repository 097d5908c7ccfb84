"""`sip2d item` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="item")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d item' is not implemented yet")
