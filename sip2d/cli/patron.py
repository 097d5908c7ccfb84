"""`sip2d patron` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="patron")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d patron' is not implemented yet")
