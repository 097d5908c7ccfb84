"""`sip2d web`: the patron PIN page on its own.

``sip2d web`` serves only the page (and its mail sender), for sites that run it apart from
the kiosk daemon, behind their TLS proxy.
"""

from __future__ import annotations

import dataclasses
import signal

import click
import trio

from sip2d.auth.hashing import PepperError
from sip2d.cli.common import CliState, pass_state
from sip2d.config import ConfigError, validate_web
from sip2d.server.logs import configure_logging
from sip2d.storage.errors import StorageError


@click.command(name="web")
@click.option("--listen", default="", metavar="HOST:PORT", help="Instead of [web] listen.")
@pass_state
def command(state: CliState, listen: str) -> None:
    """Serve the patron PIN page (set up, reset and change PINs) until SIGTERM."""
    from sip2d.server.build import build_context, metrics_sink
    from sip2d.web.serve import build_web, serve_web

    config = state.config
    try:
        if listen:
            config = dataclasses.replace(config, web=dataclasses.replace(config.web, listen=listen))
            validate_web(config.web)
        if not config.web.listen:
            raise click.ClickException("web.listen is empty: nothing to serve (or use --listen)")
        configure_logging(config.logging.level, config.logging.format)

        async def main() -> None:
            ctx = build_context(config)
            stopping = trio.Event()
            parts = build_web(
                config,
                ctx.db,
                ctx.gate.hasher,
                registry=ctx.metrics.registry,
                auth_metrics=metrics_sink(ctx.metrics),  # type: ignore[arg-type]
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(ctx.db.run_writer)
                nursery.start_soon(_stop_on_signal, stopping)
                await serve_web(parts, stopping)
                nursery.cancel_scope.cancel()
            ctx.db.close()

        trio.run(main)
    except (ConfigError, StorageError, PepperError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass


async def _stop_on_signal(stopping: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            stopping.set()
            return
