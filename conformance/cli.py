"""``sip2d-conformance``: the command line vendors run (also ``python -m conformance``).

Exit status: 0 when no MUST check failed, 1 when one did, 2 when the suite could not run at all
(bad profile or arguments, nothing listening, a report file that cannot be written). Every
such problem is one line on stderr, never a traceback: the person running this is a vendor's
engineer, not a sip2d developer.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
import sys

import click
import trio

from conformance.checks import SERVER_CHECKS
from conformance.mask import Masker
from conformance.model import Report
from conformance.profile import Profile, ProfileError, load_profile
from conformance.report import render_text, write_json, write_junit
from conformance.runner import Unreachable, run_server_suite
from conformance.wire import Target

USAGE_ERROR = 2


def _fail(message: str) -> None:
    click.echo(f"sip2d-conformance: {message}", err=True)
    sys.exit(USAGE_ERROR)


def _profile(path: str, timeout: float | None) -> Profile:
    try:
        profile = load_profile(path)
    except ProfileError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits
    if timeout is not None:
        if timeout <= 0:
            _fail("--timeout must be positive")
        profile = dataclasses.replace(profile, timeout=timeout)
    return profile


def _tls(enabled: bool, ca_file: str | None, no_verify: bool) -> ssl.SSLContext | None:
    if not enabled:
        return None
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(ca_file)
        except (OSError, ssl.SSLError) as exc:
            _fail(f"--tls-ca {ca_file}: {exc}")
    if no_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def emit(report: Report, masker: Masker, junit: str | None, json_path: str | None,
         verbose: bool) -> None:  # fmt: skip
    """Print the terminal report and write the requested files."""
    colour = sys.stdout.isatty()
    click.echo(render_text(report, masker, colour=colour, verbose=verbose), nl=False)
    try:
        if junit:
            write_junit(report, masker, junit)
        if json_path:
            write_json(report, masker, json_path)
    except OSError as exc:
        _fail(f"cannot write report: {exc.filename}: {exc.strerror or exc}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """SIP2 conformance suite: check a SIP2 server (ACS) or a self-check kiosk (SC)."""


@main.command("server")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address of the SIP2 server under test."
)
@click.option(
    "--port",
    default=6001,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Its port (6001 is what `make serve` and most SIP2 servers use).",
)
@click.option(
    "--profile",
    "profile_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="TOML profile (see conformance/profiles/example.toml).",
)
@click.option("--tls", is_flag=True, help="Connect with TLS.")
@click.option("--tls-ca", type=click.Path(dir_okay=False), help="CA file to verify the server.")
@click.option("--tls-no-verify", is_flag=True, help="Do not verify the server's certificate.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here.")
@click.option(
    "--allow-changes",
    is_flag=True,
    help="Run checks that check the profile's item out and back in.",
)
@click.option(
    "--allow-lockout",
    is_flag=True,
    help="Run checks that lock the profile's second patron (PIN guessing limits).",
)
@click.option("--check", "only", multiple=True, metavar="ID", help="Run only these checks.")
@click.option("--timeout", type=float, help="Seconds to wait for each response.")
@click.option("-v", "--verbose", is_flag=True, help="Show notes of passing checks too.")
def server_command(
    host: str,
    port: int,
    profile_path: str,
    tls: bool,
    tls_ca: str | None,
    tls_no_verify: bool,
    junit: str | None,
    json_path: str | None,
    allow_changes: bool,
    allow_lockout: bool,
    only: tuple[str, ...],
    timeout: float | None,
    verbose: bool,
) -> None:
    """Check a SIP2 server (ACS) against the protocol reference."""
    profile = _profile(profile_path, timeout)
    known = {c.id for c in SERVER_CHECKS}
    unknown = sorted(set(only) - known)
    if unknown:
        _fail(f"--check {unknown[0]}: no such check (see `sip2d-conformance list`)")
    target = Target(host, port, _tls(tls or bool(tls_ca) or tls_no_verify, tls_ca, tls_no_verify))
    try:
        report = trio.run(
            lambda: run_server_suite(
                profile,
                target,
                allow_changes=allow_changes,
                allow_lockout=allow_lockout,
                only=only,
            )
        )
    except Unreachable as exc:
        _fail(str(exc))
        return
    emit(report, Masker(profile.secrets(), profile.encoding), junit, json_path, verbose)
    sys.exit(report.exit_code)


@main.command("kiosk")
@click.option(
    "--listen",
    required=True,
    metavar="HOST:PORT",
    help="Where the kiosk under test connects (the reference ACS listens here).",
)
@click.option("--profile", "profile_path", required=True, type=click.Path(dir_okay=False))
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write JSON here.")
@click.option(
    "--connections",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Report after this many kiosk connections have closed.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show notes of passing checks too.")
def kiosk_command(
    listen: str,
    profile_path: str,
    junit: str | None,
    json_path: str | None,
    connections: int,
    verbose: bool,
) -> None:
    """Check a self-check kiosk (SC) against a reference ACS (sip2d on a throwaway database)."""
    from conformance.kiosk.runner import KioskSetupError, run_kiosk_suite

    # The reference ACS's own warnings (a kiosk's malformed frame, a refused login) are what
    # the report explains, with context; on stderr they would be noise.
    logging.getLogger("sip2d").setLevel(logging.ERROR)
    profile = _profile(profile_path, None)
    try:
        report = trio.run(
            lambda: run_kiosk_suite(profile, listen, connections=connections, announce=_announce)
        )
    except KioskSetupError as exc:
        _fail(str(exc))
        return
    emit(report, Masker(profile.secrets(), profile.encoding), junit, json_path, verbose)
    sys.exit(report.exit_code)


def _announce(text: str) -> None:
    click.echo(text, err=True)


@main.command("list")
@click.option("--mode", type=click.Choice(["server", "kiosk"]), default="server",
              show_default=True)  # fmt: skip
def list_command(mode: str) -> None:
    """List every check: id, severity, reference section and title."""
    if mode == "kiosk":
        from conformance.kiosk.checks import KIOSK_CHECKS

        checks = KIOSK_CHECKS
    else:
        checks = SERVER_CHECKS
    for c in checks:
        extra = f"  [needs --allow-{c.needs[0]}]" if c.needs else ""
        click.echo(f"{c.id:<6} {c.severity.value:<6} {c.section:<18} {c.title}{extra}")
