"""`sip2d bench`: the load generator that ships with the server, like pgbench or redis-benchmark.

``sip2d bench HOST:PORT ...`` (or ``sip2d bench run ...``) drives a running server with
simulated kiosks and reports throughput and latency; ``sip2d bench seed`` fills the
configured database with the predictable library the generator expects; ``sip2d bench idle``
holds idle kiosk connections open (for measuring what each one costs the daemon). The run is
the default subcommand so the common case reads like the tools ops already know.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sip2d.bench.dataset import DEFAULT_ITEMS, DEFAULT_PATRONS, MAX_RECORDS, Dataset
from sip2d.bench.scenarios import SCENARIOS, Credentials, ScenarioError
from sip2d.cli.common import CliState, pass_state
from sip2d.config import ConfigError, parse_address

LOGIN_ENV = "SIP2D_BENCH_LOGIN"
F = TypeVar("F", bound=Callable[..., Any])


class RunByDefault(click.Group):
    """A group whose ``run`` subcommand is implied: ``sip2d bench HOST:PORT`` works."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def parse_target(text: str) -> tuple[str, int]:
    try:
        host, port = parse_address(text, "target")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    if not host or port == 0:
        raise click.BadParameter(f"expected HOST:PORT, got {text!r}")
    return host, port


def parse_login(text: str | None) -> Credentials | None:
    if text is None or text == "":
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        # Never echo the value: it may hold a password.
        raise click.BadParameter("expected USER:PASSWORD", param_hint="--login")
    return Credentials(user, password)


def dataset_options(function: F) -> F:
    function = click.option(
        "--items",
        type=click.IntRange(0, MAX_RECORDS),
        default=DEFAULT_ITEMS,
        show_default=True,
        help="Items in the bench library (as seeded).",
    )(function)
    return click.option(
        "--patrons",
        type=click.IntRange(1, MAX_RECORDS),
        default=DEFAULT_PATRONS,
        show_default=True,
        help="Patrons in the bench library (as seeded).",
    )(function)


def login_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "--login",
        "login",
        envvar=LOGIN_ENV,
        required=required,
        metavar="USER:PASSWORD",
        help=f"Kiosk account (93 CN/CO). Env: {LOGIN_ENV}.",
    )


@click.group(name="bench", cls=RunByDefault)
def command() -> None:
    """Load generator and benchmark data (help text built below from the scenario table)."""


command.help = (
    "Load generator: `sip2d bench HOST:PORT --login U:P --scenario NAME --kiosks N "
    "--duration S [--json OUT]`, and its data: `sip2d bench seed`.\n\n\b\nScenarios:\n"
    + "\n".join(f"  {name:<14} {s.summary}" for name, s in SCENARIOS.items())
)


@command.command(name="run")
@click.argument("target", metavar="HOST:PORT")
@login_option(required=False)
@click.option(
    "--scenario",
    type=click.Choice(list(SCENARIOS)),
    default="keepalive",
    show_default=True,
    help="What each kiosk does.",
)
@click.option("--kiosks", type=click.IntRange(1), default=10, show_default=True)
@click.option(
    "--duration", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds."
)
@click.option(
    "--processes",
    type=click.IntRange(1),
    default=None,
    help="Generator processes [default: 2 on a multi-core machine with 4+ kiosks, else 1].",
)
@dataset_options
@click.option("--institution", default="", help="AO sent in requests.")
@click.option(
    "--also",
    multiple=True,
    metavar="HOST:PORT",
    help="Another daemon to drive (repeatable): kiosks are dealt round-robin over all targets.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for an answer before counting a timeout and reconnecting.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Also write the results as JSON here ('-' for stdout).",
)
@click.option("--quiet", is_flag=True, help="No progress line and no report (use with --json).")
def run_command(
    target: str,
    login: str | None,
    scenario: str,
    kiosks: int,
    duration: float,
    processes: int | None,
    patrons: int,
    items: int,
    institution: str,
    also: tuple[str, ...],
    timeout: float,
    json_path: str | None,
    quiet: bool,
) -> None:
    """Drive HOST:PORT with simulated kiosks and report throughput and latency."""
    from sip2d.bench.kiosk import BenchError
    from sip2d.bench.report import ProgressLine, format_report
    from sip2d.bench.runner import BenchOptions, run_bench

    host, port = parse_target(target)
    credentials = parse_login(login)
    if SCENARIOS[scenario].needs_login and credentials is None:
        raise click.UsageError(f"scenario {scenario!r} needs --login USER:PASSWORD")
    if processes is None:
        processes = 2 if (os.cpu_count() or 1) > 1 and kiosks >= 4 else 1
    options = BenchOptions(
        host=host,
        port=port,
        scenario=scenario,
        kiosks=kiosks,
        duration=duration,
        processes=processes,
        dataset=Dataset(patrons, items),
        credentials=credentials,
        institution=institution,
        timeout=timeout,
        also=tuple(parse_target(t) for t in also),
    )
    progress = ProgressLine(sys.stderr, duration)
    progress.enabled = progress.enabled and not quiet
    try:
        summary = run_bench(options, progress)
    except ScenarioError as exc:
        raise click.ClickException(f"scenario {scenario}: {exc}") from None
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.finish()
    if not quiet:
        # With --json - the JSON owns stdout, so the report goes to stderr.
        click.echo(format_report(summary), err=json_path == "-")
    if json_path is not None:
        text = json.dumps(summary, indent=2) + "\n"
        if json_path == "-":
            click.echo(text, nl=False)
        else:
            try:
                Path(json_path).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise click.ClickException(
                    f"cannot write {json_path}: {exc.strerror or exc}"
                ) from None


@command.command(name="seed")
@click.option(
    "--patrons",
    type=click.IntRange(1, MAX_RECORDS),
    default=DEFAULT_PATRONS,
    show_default=True,
    help="Patrons to create.",
)
@click.option(
    "--items",
    type=click.IntRange(0, MAX_RECORDS),
    default=DEFAULT_ITEMS,
    show_default=True,
    help="Items to create.",
)
@login_option(required=True)
@click.option(
    "--unique-salts",
    is_flag=True,
    help="Hash every patron's PIN separately (production layout; ~30 patrons/s per core).",
)
@pass_state
def seed_command(state: CliState, patrons: int, items: int, login: str, unique_salts: bool) -> None:
    """Fill the configured (migrated) database with the bench library and a kiosk account.

    Patron i has barcode 2000000001+i and one of 16 public bench PINs; item j has barcode
    3000000001+j. Each distinct PIN is hashed once at the configured argon2 cost and its
    record shared by the patrons with that PIN (see sip2d.bench.seed). Bench data only:
    never seed a production database.
    """
    from sip2d.auth.hashing import PepperError, PinHasher
    from sip2d.bench.seed import AlreadySeeded, seed_bench
    from sip2d.cli.db import open_database

    credentials = parse_login(login)
    assert credentials is not None
    config = state.config
    try:
        hasher = PinHasher.from_config(config.auth)
    except PepperError as exc:
        raise click.ClickException(str(exc)) from None
    shown = {"table": ""}

    def progress(table: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{table}: {done:,}/{total:,}", nl=done == total, err=True)
        elif done == total or table != shown["table"]:
            shown["table"] = table

    with open_database(state) as engine:
        try:
            report = seed_bench(
                engine,
                hasher,
                Dataset(patrons, items),
                kiosk_login=credentials.user,
                kiosk_password=credentials.password,
                institution_id=config.server.institution_id,
                unique_salts=unique_salts,
                progress=progress,
            )
        except AlreadySeeded as exc:
            raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)


@command.command(name="idle")
@click.argument("target", metavar="HOST:PORT")
@click.option("--connections", type=click.IntRange(1), default=1000, show_default=True)
@login_option(required=False)
@click.option(
    "--hold",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to hold them [default: until interrupted or SIGTERM].",
)
def idle_command(target: str, connections: int, login: str | None, hold: float | None) -> None:
    """Open and hold idle kiosk connections (each answered once: 93 with --login, else 99).

    Prints 'holding N idle connections' when they are all open, and at the end how many the
    server had closed meanwhile.
    """
    import trio

    from sip2d.bench.idle import open_idle
    from sip2d.bench.kiosk import BenchError

    host, port = parse_target(target)
    credentials = parse_login(login)

    async def main() -> None:
        held = await open_idle(host, port, connections, credentials=credentials)
        try:
            click.echo(f"holding {connections} idle connections", err=False)
            sys.stdout.flush()
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                with trio.move_on_after(hold if hold is not None else float("inf")):
                    async for _ in signals:
                        break
            click.echo(f"{held.still_open()} of {connections} still open")
        finally:
            held.close()

    try:
        trio.run(main)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
