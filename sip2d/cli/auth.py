"""`sip2d auth` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="auth")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d auth' is not implemented yet")
