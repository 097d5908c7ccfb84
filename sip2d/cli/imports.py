"""`sip2d import patrons|items FILE.csv`: bulk loads from another system's export.

The work is :mod:`sip2d.storage.csvimport` (streaming, checked before anything is written,
batched upserts, parallel PIN hashing); this module adds what a person or a log needs: progress
(a bar per phase on a terminal; elsewhere, for cron mail, CI and ``nohup``, a line every few
seconds with the rate and the time left, on stderr), the bad rows listed by line number, and a
summary with the rate achieved.
"""

from __future__ import annotations

import sys
import time
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
    ENCODINGS,
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
    """One click progress bar per phase, sized to the file, for a terminal."""

    def __init__(self, stack: ExitStack, total: int) -> None:
        self._stack = stack
        self._total = total
        self._phase = ""
        self._bar: Any = None

    def __call__(self, phase: str, advanced: int, line: int) -> None:
        if phase != self._phase:
            if self._bar is not None:
                self._bar.render_finish()
            self._phase = phase
            self._bar = self._stack.enter_context(
                click.progressbar(length=self._total, label=f"{phase:<8}", file=sys.stdout)
            )
        self._bar.update(advanced)


class _ProgressLines:
    """A line on stderr at most every ``every`` seconds, and at the end of each phase: how far,
    how fast (rows and bytes per second) and how long is left, for logs that are not a terminal.
    """

    def __init__(self, total: int, every: float) -> None:
        self._total = max(total, 1)
        self._every = every
        self._phase = ""
        self._done = 0
        self._started = 0.0
        self._last = 0.0

    def __call__(self, phase: str, advanced: int, line: int) -> None:
        now = time.monotonic()
        if phase != self._phase:
            self._phase, self._done, self._started, self._last = phase, 0, now, now
        self._done += advanced
        finished = self._done >= self._total
        if not finished and now - self._last < self._every:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-6)
        rows = max(line - 1, 0)  # the header is line 1
        left = elapsed * (self._total - self._done) / max(self._done, 1)
        click.echo(
            f"{phase}: {100 * self._done / self._total:.0f}% "
            f"({_size(self._done)} of {_size(self._total)}), line {line:,}, "
            f"{rows / elapsed:,.0f} rows/s, {_size(self._done / elapsed)}/s, "
            f"ETA {'done' if finished else _duration(left)}",
            err=True,
        )


def _size(count: float) -> str:
    return f"{count / 1_000_000:.1f} MB" if count >= 100_000 else f"{count / 1000:.1f} kB"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _run(
    state: CliState,
    kind: ImportKind,
    file: Path,
    skip_invalid: bool,
    rejects: Path | None,
    batch_size: int,
    encoding: str,
    clear_empty: bool,
    progress_mode: str,
    progress_every: float,
) -> None:
    with storage_errors():
        header = read_header(file, kind, encoding)
    hasher: PinHasher | None = None
    policy: PinPolicy | None = None
    if any(column in header for column in PIN_COLUMNS):
        hasher = load_hasher(state)
        policy = load_policy(state)
    with open_database(state) as engine, ExitStack() as stack:
        progress: Progress | None = None
        size = file.stat().st_size
        if progress_mode == "auto":
            progress_mode = "bar" if sys.stdout.isatty() else "lines"
        if progress_mode == "bar":
            progress = _Bars(stack, size)
        elif progress_mode == "lines":
            progress = _ProgressLines(size, progress_every)
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
                encoding=encoding,
                clear_empty=clear_empty,
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
            f"updating existing ones. Columns: {columns}. Required: {', '.join(kind.required)}. "
            "Cells may be separated by commas, semicolons or tabs (found from the header). "
            "A barcode given twice in the file is a bad row."
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
    @click.option(
        "--encoding",
        type=click.Choice(ENCODINGS, case_sensitive=False),
        default="utf-8",
        show_default=True,
        help="Character set of the file (cp1252: Excel on Windows; cp850: old DOS exports).",
    )
    @click.option(
        "--clear-empty",
        is_flag=True,
        help="Let an empty cell erase the stored value (default: an empty cell changes nothing "
        "for a barcode that exists).",
    )
    @click.option(
        "--progress",
        "progress_mode",
        type=click.Choice(["auto", "bar", "lines", "off"]),
        default="auto",
        show_default=True,
        help="auto: a bar on a terminal, otherwise a line on stderr every few seconds.",
    )
    @click.option(
        "--progress-every",
        type=click.FloatRange(min=0),
        default=5.0,
        show_default=True,
        metavar="SECONDS",
        help="How often --progress lines writes a line.",
    )
    @pass_state
    def run(
        state: CliState,
        file: Path,
        skip_invalid: bool,
        rejects: Path | None,
        batch_size: int,
        encoding: str,
        clear_empty: bool,
        progress_mode: str,
        progress_every: float,
    ) -> None:
        _run(
            state,
            kind,
            file,
            skip_invalid,
            rejects,
            batch_size,
            encoding.lower(),
            clear_empty,
            progress_mode,
            progress_every,
        )

    return run


@click.group(name="import")
def command() -> None:
    """Bulk-load patrons or items from CSV (re-running updates, never duplicates)."""


command.add_command(_import_command(PATRON_KIND))
command.add_command(_import_command(ITEM_KIND))
