"""`sip2d import patrons|items FILE.csv`: bulk loads from another system's export.

The work is :mod:`sip2d.storage.csvimport` (streaming, two passes, batched upserts, parallel
PIN hashing); this module adds what a person at a terminal needs: a progress bar when stdout
is a terminal (nothing otherwise, so cron mail and CI logs stay clean), the bad rows listed by
line number, and a summary with the rate achieved.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from sip2d.auth.hashing import PinHasher
from sip2d.auth.policy import PinPolicy
from sip2d.cli.common import CliState, pass_state
from sip2d.cli.db import open_database, storage_errors
from sip2d.cli.patron import load_hasher, load_policy
from sip2d.storage.csvimport import (
    BATCH_ROWS,
    PIN_COLUMNS,
    ImportKind,
    ImportRefused,
    Progress,
    accepted_columns,
    import_csv,
    read_header,
)
from sip2d.storage.csvimport import ITEMS as ITEM_KIND
from sip2d.storage.csvimport import PATRONS as PATRON_KIND


class _Bars:
    """One click progress bar per phase, sized to the file, shown only on a terminal."""

    def __init__(self, stack: ExitStack, total: int) -> None:
        self._stack = stack
        self._total = total
        self._phase = ""
        self._bar: Any = None

    def __call__(self, phase: str, advanced: int) -> None:
        if phase != self._phase:
            if self._bar is not None:
                self._bar.render_finish()
            self._phase = phase
            self._bar = self._stack.enter_context(
                click.progressbar(length=self._total, label=f"{phase:<8}", file=sys.stdout)
            )
        self._bar.update(advanced)


def _run(
    state: CliState,
    kind: ImportKind,
    file: Path,
    skip_invalid: bool,
    rejects: Path | None,
    batch_size: int,
) -> None:
    with storage_errors():
        header = read_header(file, kind)
    hasher: PinHasher | None = None
    policy: PinPolicy | None = None
    if any(column in header for column in PIN_COLUMNS):
        hasher = load_hasher(state)
        policy = load_policy(state)
    with open_database(state) as engine, ExitStack() as stack:
        progress: Progress | None = None
        if sys.stdout.isatty():
            progress = _Bars(stack, file.stat().st_size)
        try:
            result = import_csv(
                engine,
                kind,
                file,
                hasher=hasher,
                policy=policy,
                skip_invalid=skip_invalid,
                rejects_path=rejects,
                batch_rows=batch_size,
                workers=state.config.auth.hash_threads,
                progress=progress,
            )
        except ImportRefused as exc:
            stack.close()
            for bad in exc.first:
                click.echo(f"{file}: {bad}", err=True)
            if exc.count > len(exc.first):
                click.echo(f"{file}: ... and {exc.count - len(exc.first)} more", err=True)
            raise
    rate = f"{result.rows_per_second:,.0f} rows/s"
    click.echo(
        f"imported {result.loaded} {kind.name} from {file} "
        f"({result.inserted} new, {result.updated} updated) in {result.seconds:.1f} s ({rate})"
        + (f"; {result.pins_hashed} PINs hashed" if result.pins_hashed else "")
    )
    if result.rejected:
        click.echo(f"{result.rejected} bad rows skipped, written to {result.rejects_path}")


def _import_command(kind: ImportKind) -> click.Command:
    columns = ", ".join(accepted_columns(kind))

    @click.command(
        name=kind.name,
        help=(
            f"Load {kind.name} from a CSV file with a header line, adding new barcodes and "
            f"updating existing ones. Columns: {columns}. Required: {', '.join(kind.required)}."
        ),
    )
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--skip-invalid",
        is_flag=True,
        help="Load the good rows and write the bad ones to the rejects file "
        "(default: refuse the whole file if any row is bad).",
    )
    @click.option(
        "--rejects",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where --skip-invalid writes bad rows (default: FILE.rejects.csv).",
    )
    @click.option(
        "--batch-size",
        type=click.IntRange(min=1, max=100_000),
        default=BATCH_ROWS,
        show_default=True,
        help="Rows per transaction.",
    )
    @pass_state
    def run(
        state: CliState, file: Path, skip_invalid: bool, rejects: Path | None, batch_size: int
    ) -> None:
        _run(state, kind, file, skip_invalid, rejects, batch_size)

    return run


@click.group(name="import")
def command() -> None:
    """Bulk-load patrons or items from CSV (re-running updates, never duplicates)."""


command.add_command(_import_command(PATRON_KIND))
command.add_command(_import_command(ITEM_KIND))
