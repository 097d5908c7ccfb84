"""`sip2d demo`: seed the demo library into the configured database and print how to use it.

The data and the seeding live in :mod:`sip2d.storage.demo`, shared with ``sip2d serve
--demo``. The demo PINs and kiosk password are printed on purpose: they are public test
credentials, the same in every installation, and exist to be typed into a test kiosk.
"""

from __future__ import annotations

import click

from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import open_database
from sip2d.cli.patron import load_hasher
from sip2d.storage.demo import seed_demo


@click.command(name="demo")
@click.option(
    "--reset",
    is_flag=True,
    help="Delete the rows the demo created (recorded as demo data) with their loans, holds "
    "and fees, then seed them afresh.",
)
@pass_state
def command(state: CliState, reset: bool) -> None:
    """Seed a small demo library into an empty database (refuses one with other data)."""
    with open_database(state) as engine:
        data = seed_demo(
            engine,
            load_hasher(state),
            institution_id=state.config.server.institution_id,
            reset=reset,
        )
    if data.created:
        click.echo("demo data seeded" + (" afresh" if reset else ""))
    else:
        click.echo("demo data already present (use --reset to restore it)")
    for line in data.describe():
        click.echo(line)
