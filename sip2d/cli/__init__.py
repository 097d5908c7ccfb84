"""The `sip2d` command line: one entry point for serving, data management and tools.

Each area of the program owns one module here and exposes a click command or group; this file
only wires them together and turns configuration errors into a single line and a non-zero
exit, so ops never see a traceback for their own mistakes.
"""

from __future__ import annotations

import click

from sip2d.cli import (
    account,
    auth,
    bench,
    client,
    db,
    demo,
    desk,
    imports,
    item,
    patron,
    serve,
    web,
)
from sip2d.cli.common import CliState


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar="SIP2D_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML configuration file (default: built-in defaults). Env: SIP2D_CONFIG.",
)
@click.version_option(package_name="sip2d")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """sip2d: SIP2 server for library self-check kiosks."""
    ctx.obj = CliState(config_path)


for _module in (serve, client, db, patron, item, account, imports, demo, auth, bench, web):
    main.add_command(_module.command)
main.add_command(web.mail_command)
desk.register(patron.command)
