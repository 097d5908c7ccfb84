"""`sip2d client` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="client")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d client' is not implemented yet")
