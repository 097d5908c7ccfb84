"""`sip2d demo` (placeholder until its issue lands)."""

from __future__ import annotations

import click


@click.command(name="demo")
def command() -> None:
    """Not implemented yet."""
    raise click.ClickException("'sip2d demo' is not implemented yet")
