"""`sip2d auth`: the pepper and the cost of PIN hashing, for the operator.

``gen-pepper`` is the only way a pepper should come into being: 32 bytes from the OS random
source, written to a new file that only its owner can read, never printed. Replacing an existing
pepper file needs ``--force`` because every hash made under it stops verifying unless the old
file stays listed in ``auth.old_pepper_files``. ``status`` shows which pepper key ids and argon2
parameters the configuration yields (never a key) and how many stored records use each, which is
how an operator knows a rotation is finished; ``measure`` times a verification per parameter
profile on this machine, to choose the cost with numbers.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from pathlib import Path

import click

from sip2d.auth.hashing import PROFILES, Pepper, PepperError, PinHasher, record_kind
from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import open_database
from sip2d.config import Argon2Config
from sip2d.storage.hash_census import count_secret_records


@click.group(name="auth")
def command() -> None:
    """PIN pepper and hashing cost."""


@command.command("gen-pepper")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to create (mode 0600). Point auth.pepper_file at it.",
)
@click.option("--force", is_flag=True, help="Replace an existing file (old hashes stop verifying).")
def gen_pepper(out: Path, force: bool) -> None:
    """Write a new random pepper key to FILE, readable by its owner only."""
    if out.exists() and not force:
        raise click.ClickException(
            f"{out} already exists; refusing to overwrite a pepper (hashes made with it would "
            "stop verifying). Use --force to replace it, and list the old file in "
            "auth.old_pepper_files until hashes are upgraded."
        )
    pepper = Pepper.generate()
    try:
        _write_private(out, pepper.to_text().encode("ascii"), replace=force)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote pepper key id {pepper.key_id} to {out} (mode 0600)")
    click.echo(f'set in the config: [auth] pepper_file = "{out.resolve()}"')


def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Create ``path`` with mode 0600 (atomically replacing it when ``replace``)."""
    target = path
    if replace:
        target = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may only remove bits; make the mode exact
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)
    if replace:
        try:
            os.replace(target, path)
        except BaseException:
            target.unlink(missing_ok=True)
            raise


def _hasher(state: CliState) -> PinHasher:
    try:
        return PinHasher.from_config(state.config.auth)
    except PepperError as exc:
        raise click.ClickException(str(exc)) from None


@command.command("status")
@pass_state
def status(state: CliState) -> None:
    """Show the pepper key ids and argon2 parameters, and how many stored records use each.

    Rotation is finished when no record is counted under an old key id or old parameters.
    """
    hasher = _hasher(state)
    p = state.config.auth.argon2
    click.echo(f"current pepper key id: {hasher.key_id}")
    old = hasher.old_key_ids
    click.echo(f"old pepper key ids:    {', '.join(old) if old else '(none)'}")
    configured = f"argon2id m={p.memory_kib} t={p.time_cost} p={p.parallelism}"
    click.echo(f"argon2id:              m={p.memory_kib} KiB, t={p.time_cost}, p={p.parallelism}")
    with open_database(state) as engine, engine.connect() as conn:
        census = count_secret_records(conn, record_kind)
    click.echo("stored records by pepper key id and hashing parameters:")
    if not census:
        click.echo("  (none)")
    for (kind, key_id, scheme), count in sorted(census.items()):
        click.echo(
            f"  {count:>9}  {kind:<15}  key {key_id:<8}  {scheme:<32}  "
            f"{_verdict(key_id, scheme, hasher, configured)}"
        )


def _verdict(key_id: str, scheme: str, hasher: PinHasher, configured: str) -> str:
    """What happens to records of this kind: current, upgraded on next use, or lost."""
    if scheme == "none":
        return "no PIN set"
    if key_id == "-":
        return "" if scheme.startswith("bcrypt") else "will not verify"
    if key_id == hasher.key_id:
        return "current" if scheme == configured else "re-hashed at next use (old parameters)"
    if key_id in hasher.old_key_ids:
        return "old pepper: re-hashed at next use"
    return "UNKNOWN pepper: will not verify (restore its file to auth.old_pepper_files)"


@command.command("measure")
@click.option("--rounds", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--profile",
    "names",
    multiple=True,
    type=click.Choice([*PROFILES, "configured"]),
    help="Profile to time (repeatable; default: all, then the configured parameters).",
)
@pass_state
def measure(state: CliState, rounds: int, names: tuple[str, ...]) -> None:
    """Time one PIN verification per parameter profile on this machine."""
    profiles = dict(PROFILES)
    profiles["configured"] = state.config.auth.argon2
    pepper = Pepper.generate()
    for name, params in profiles.items():
        if names and name not in names:
            continue
        ms = measure_verify_ms(params, pepper, rounds)
        click.echo(
            f"{name:<11} m={params.memory_kib:>6} KiB t={params.time_cost} "
            f"p={params.parallelism}: {ms:7.1f} ms per verify; all 10,000 four-digit PINs: "
            f"{ms * 10:.0f} s"
        )


def measure_verify_ms(params: Argon2Config, pepper: Pepper, rounds: int) -> float:
    """Median wall time of one successful verification, in milliseconds."""
    hasher = PinHasher(params, pepper)
    sample = secrets.token_hex(4)
    record = hasher.hash(sample)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        hasher.verify(record, sample)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
