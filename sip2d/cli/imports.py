"""`sip2d imports` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="import")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d imports' is not implemented yet")
