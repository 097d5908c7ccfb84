"""`sip2d serve` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="serve")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d serve' is not implemented yet")
