"""`sip2d serve`: run the SIP2 daemon until SIGTERM."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from sip2d.auth.hashing import PepperError
from sip2d.cli.common import CliState, pass_state
from sip2d.config import ConfigError, ListenerConfig
from sip2d.server.logs import configure_logging
from sip2d.storage.errors import StorageError


@click.command(name="serve")
@click.option(
    "--listen",
    "listen",
    multiple=True,
    metavar="HOST:PORT",
    help="Listen here instead of the configured listeners (repeatable; [::1]:6001 for IPv6).",
)
@click.option(
    "--reuse-port",
    is_flag=True,
    help="Set SO_REUSEPORT on every listener: several daemons on one database share a port and "
    "the kernel deals connections between them.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Serve an embedded SQLite demo database (created and seeded on first use) on "
    "127.0.0.1:6001.",
)
@click.option(
    "--demo-dir",
    default="var/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where --demo keeps its database and pepper.",
)
@pass_state
def command(
    state: CliState, listen: tuple[str, ...], reuse_port: bool, demo: bool, demo_dir: str
) -> None:
    """Serve SIP2 to self-check kiosks."""
    from sip2d.server.build import build_context, demo_config
    from sip2d.server.daemon import run_blocking

    config = state.config
    try:
        if demo:
            config = demo_config(config, Path(demo_dir), list(listen) or None)
        elif listen:
            base = config.listeners[0]
            config = dataclasses.replace(
                config, listeners=[dataclasses.replace(base, address=a) for a in listen]
            )
            for listener in config.listeners:
                ListenerConfig(**dataclasses.asdict(listener))
        if reuse_port:
            config = dataclasses.replace(
                config,
                listeners=[dataclasses.replace(lst, reuse_port=True) for lst in config.listeners],
            )
        configure_logging(config.logging.level, config.logging.format)
        if demo:
            from sip2d.storage import demo as demo_data

            patrons = ", ".join(
                f"{p.barcode}/{p.pin}" for p in demo_data.PATRONS if p.pin and not p.blocked
            )
            click.echo(
                f"sip2d demo: serving SIP2 on {', '.join(lst.address for lst in config.listeners)} "
                f"from {config.database.url}\n"
                f"  kiosk login {demo_data.KIOSK_LOGIN} / {demo_data.KIOSK_PASSWORD}, "
                f"institution {demo_data.INSTITUTION_ID}\n"
                f"  patrons (barcode/PIN): {patrons}; items 3000001-3000010 (README: Demo data)\n"
                f"  PIN page: {config.web.base_url}/pin "
                f"(mails as files in {config.mail.directory})",
                err=True,
            )
        run_blocking(lambda: build_context(config), state.config_path)
    except (ConfigError, StorageError, PepperError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass
