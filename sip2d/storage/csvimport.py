"""Streaming CSV import of patrons and items, safe to re-run and safe with PINs.

Design choices:

* Constant memory. The file is read twice as a stream (a ``csv.reader`` over the file's
  lines), never loaded: pass 1 checks every row, pass 2 loads. Rows are written in batches
  (default 1,000) with one ``executemany`` upsert and one transaction per batch.
* All or nothing by default. Pass 1 finds every bad row before anything is written, so a file
  with a bad row is refused with nothing changed. With ``skip_invalid`` the good rows load and
  the bad ones go to a rejects file with a ``line`` and a ``reason`` column.
* Re-running updates. Rows are upserted by barcode (``INSERT .. ON CONFLICT DO UPDATE`` on
  both SQLite and PostgreSQL); only the columns present in the file are updated, so a file
  without a ``pin`` column never touches existing PINs, and one without ``location`` never
  moves items. Rows apply in file order, so a barcode given twice ends as its last row says.
* PINs. A ``pin`` column is checked against the PIN policy in pass 1 and hashed in pass 2 by a
  thread pool (argon2 releases the GIL, so threads scale to the cores; hashing of a batch
  overlaps with writing the previous one). A clear PIN is never written anywhere: not to the
  database, a message, or the rejects file, where the column is blanked. A ``pin_hash``
  column may carry a sip2d record or a legacy bcrypt hash (``$2a$/$2b$/$2y$``), stored as-is
  for the auth code to verify and upgrade at first use. A new patron without either gets
  ``pin_must_change = true``; a new PIN clears the failure count and any lock.
* Blocks. A ``blocked`` column speaks for staff: a block it sets is staff's (``block_source``),
  which a kiosk cannot lift, and a block it clears is cleared whoever set it.
* Line numbers are physical lines of the file (the header is line 1), where the row starts.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Engine, Table, case, false, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

from sip2d.storage import values
from sip2d.storage.connect import first_line
from sip2d.storage.errors import StorageError
from sip2d.storage.models import BLOCKED_BY_STAFF, NOT_BLOCKED, items, patrons
from sip2d.storage.sqltime import utcnow

BATCH_ROWS = 1000
# Bad rows kept for the refusal message; the rest are only counted (constant memory).
MAX_REPORTED = 20
# Columns the rejects file adds; ignored on import so a corrected rejects file can be loaded.
REJECT_COLUMNS = ("line", "reason")
PROGRESS_STEP = 256 * 1024
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")

Progress = Callable[[str, int], None]
"""Called with a phase name ("checking", "loading") and a number of bytes just read."""


class SecretHasher(Protocol):
    """What the importer needs from :class:`sip2d.auth.hashing.PinHasher`."""

    def hash(self, secret: str) -> str: ...

    def import_problem(self, record: str) -> str | None: ...


class SecretPolicy(Protocol):
    """What the importer needs from :class:`sip2d.auth.policy.PinPolicy`."""

    def check(self, pin: str) -> str | None: ...


class ImportFileError(StorageError):
    """The file as a whole cannot be imported (header, encoding, CSV syntax); nothing written."""


@dataclasses.dataclass(frozen=True)
class BadRow:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportRefused(StorageError):
    """Some rows are bad and ``skip_invalid`` was not given; nothing was written."""

    def __init__(self, path: Path, count: int, first: list[BadRow]) -> None:
        self.path = path
        self.count = count
        self.first = first
        rows = "row is" if count == 1 else "rows are"
        super().__init__(
            f"{path}: {count} {rows} bad, nothing was imported "
            "(fix them, or use --skip-invalid to load the good rows)"
        )


@dataclasses.dataclass(frozen=True)
class ImportResult:
    kind: str
    loaded: int
    inserted: int
    updated: int
    rejected: int
    pins_hashed: int
    seconds: float
    rejects_path: Path | None

    @property
    def rows_per_second(self) -> float:
        return self.loaded / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Field:
    """One accepted CSV column: how to parse it and which table columns it fills."""

    name: str
    parse: Callable[[str], Any]
    columns: tuple[str, ...]
    # Columns refreshed when the barcode already exists (default: all of ``columns``).
    update: tuple[str, ...] | None = None
    # Columns whose value follows from the parsed one: written, and refreshed, along with it.
    derived: tuple[tuple[str, Callable[[Any], Any]], ...] = ()

    @property
    def update_columns(self) -> tuple[str, ...]:
        own = self.columns if self.update is None else self.update
        return own + tuple(column for column, _ in self.derived)


@dataclasses.dataclass(frozen=True)
class ImportKind:
    name: str
    table: Table
    fields: dict[str, Field]
    required: tuple[str, ...]
    has_pins: bool = False


def _text(max_length: int, *, required: bool = False) -> Callable[[str], str]:
    return lambda value: values.text(value, max_length, required=required)


def _profile(value: str) -> str:
    return values.text(value, 32) or "adult"


def _block_source(blocked: bool) -> str:
    # A file comes from staff, so its blocks are staff's: a kiosk's Patron Enable cannot lift
    # them. A file that clears a block clears any block, as staff may.
    return BLOCKED_BY_STAFF if blocked else NOT_BLOCKED


def _fields(*fields: Field) -> dict[str, Field]:
    return {f.name: f for f in fields}


PATRONS = ImportKind(
    name="patrons",
    table=patrons,
    required=("barcode", "name"),
    has_pins=True,
    fields=_fields(
        Field("barcode", values.barcode, ("barcode",)),
        Field("name", _text(255, required=True), ("name",)),
        Field("email", _text(255), ("email",)),
        Field("phone", _text(64), ("phone",)),
        Field("address", _text(255), ("address",)),
        Field("language", lambda v: values.digits_code(v, 3, "000"), ("language",)),
        Field("expires", values.iso_date, ("expires_on",)),
        Field("profile", _profile, ("profile",)),
        Field("blocked", values.boolean, ("blocked",), derived=(("block_source", _block_source),)),
        Field("block_reason", _text(255), ("block_reason",)),
        Field("loan_limit", values.optional_count, ("loan_limit",)),
    ),
)

ITEMS = ImportKind(
    name="items",
    table=items,
    required=("barcode", "title"),
    fields=_fields(
        Field("barcode", values.barcode, ("barcode",)),
        Field("title", _text(255, required=True), ("title",)),
        Field("author", _text(255), ("author",)),
        Field("call_number", _text(64), ("call_number",)),
        Field("media_type", lambda v: values.code_in_range(v, 3, "001", 0, 999), ("media_type",)),
        # A new item starts where it belongs; re-importing moves only its home, not an item
        # that is currently elsewhere (in transit, on the hold shelf).
        Field(
            "location",
            _text(64),
            ("permanent_location", "current_location"),
            update=("permanent_location",),
        ),
        Field("holding_library", _text(64), ("holding_library",)),
        Field(
            "circulation_status",
            lambda v: values.code_in_range(v, 2, "03", 1, 13),
            ("circulation_status",),
        ),
        Field(
            "security_marker",
            lambda v: values.code_in_range(v, 2, "00", 0, 3),
            ("security_marker",),
        ),
        Field("checkout_fee", values.amount_cents, ("checkout_fee_cents",)),
    ),
)

KINDS = {kind.name: kind for kind in (PATRONS, ITEMS)}
PIN_COLUMNS = ("pin", "pin_hash")


def accepted_columns(kind: ImportKind) -> list[str]:
    """Every column name the importer accepts for ``kind``, in documentation order."""
    names = list(kind.fields)
    if kind.has_pins:
        names += list(PIN_COLUMNS)
    return names


# --------------------------------------------------------------------------- reading


class _Lines:
    """Decoded lines of a file opened in binary, with byte progress and undecodable lines.

    Reading bytes and decoding per line (instead of a text-mode file) lets the importer
    count bytes for the progress bar and report a line that is not UTF-8 as a bad row rather
    than dying in the middle of the file.
    """

    def __init__(self, fh: IO[bytes], phase: str, progress: Progress | None) -> None:
        self._fh = fh
        self._phase = phase
        self._progress = progress
        self._pending = 0
        self.line = 0
        self.undecodable: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for raw in self._fh:
            self.line += 1
            if self._progress is not None:
                self._pending += len(raw)
                if self._pending >= PROGRESS_STEP:
                    self._progress(self._phase, self._pending)
                    self._pending = 0
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.undecodable.add(self.line)
                text = raw.decode("utf-8", errors="replace")
            if self.line == 1:
                text = text.removeprefix("\ufeff")
            yield text
        if self._progress is not None and self._pending:
            self._progress(self._phase, self._pending)
            self._pending = 0


@dataclasses.dataclass
class _Record:
    line: int
    cells: list[str]
    undecodable: bool


def _records(path: Path, phase: str, progress: Progress | None) -> Iterator[_Record]:
    """Every non-blank record after the header, with the line it starts on."""
    with path.open("rb") as fh:
        lines = _Lines(fh, phase, progress)
        reader = csv.reader(lines, strict=True)
        try:
            next(reader, None)  # the header, checked by read_header
            while True:
                start = reader.line_num + 1
                cells = next(reader, None)
                if cells is None:
                    return
                end = reader.line_num
                if not cells:
                    continue
                bad = any(start <= n <= end for n in lines.undecodable)
                lines.undecodable = {n for n in lines.undecodable if n > end}
                yield _Record(start, cells, bad)
        except csv.Error as exc:
            raise ImportFileError(
                f"{path}: line {reader.line_num}: not valid CSV ({exc}); nothing was imported"
            ) from None


def read_header(path: Path, kind: ImportKind) -> list[str]:
    """The file's column names (trimmed, lower-case), checked against ``kind``."""
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = first.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ImportFileError(f"{path}: the header line is not UTF-8") from None
    if not text.strip():
        raise ImportFileError(f"{path}: empty file (expected a header line with column names)")
    try:
        header = [name.strip().lower() for name in next(csv.reader([text], strict=True))]
    except csv.Error as exc:
        raise ImportFileError(f"{path}: line 1: not valid CSV ({exc})") from None
    accepted = accepted_columns(kind)
    unknown = [n for n in header if n not in accepted and n not in REJECT_COLUMNS]
    if unknown:
        raise ImportFileError(
            f"{path}: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"{kind.name} files may have: {', '.join(accepted)}"
        )
    duplicated = sorted({n for n in header if header.count(n) > 1})
    if duplicated:
        raise ImportFileError(f"{path}: column(s) given twice: {', '.join(duplicated)}")
    missing = [n for n in kind.required if n not in header]
    if missing:
        raise ImportFileError(f"{path}: missing required column(s): {', '.join(missing)}")
    return header


# --------------------------------------------------------------------------- parsing


@dataclasses.dataclass
class _Parsed:
    barcode: str
    row: dict[str, Any]
    # The clear PIN waiting to be hashed. Kept out of ``row`` so that nothing that prints or
    # stores ``row`` can ever carry it.
    pin: str | None = dataclasses.field(default=None, repr=False)


class _Parser:
    def __init__(
        self,
        kind: ImportKind,
        header: list[str],
        hasher: SecretHasher | None,
        policy: SecretPolicy | None,
    ) -> None:
        self.kind = kind
        self.header = header
        self.width = len(header)
        self.slots = [(i, kind.fields[n]) for i, n in enumerate(header) if n in kind.fields]
        self.pin_at = header.index("pin") if "pin" in header else None
        self.hash_at = header.index("pin_hash") if "pin_hash" in header else None
        self.hasher = hasher
        self.policy = policy
        if (self.pin_at is not None or self.hash_at is not None) and hasher is None:
            raise ImportFileError("this file has a pin or pin_hash column but no hasher was given")
        if self.pin_at is not None and policy is None:
            raise ImportFileError("this file has a pin column but no PIN policy was given")

    def parse(self, record: _Record) -> _Parsed | BadRow:
        if record.undecodable:
            return BadRow(record.line, "not valid UTF-8")
        cells = record.cells
        if len(cells) != self.width:
            return BadRow(record.line, f"expected {self.width} fields, found {len(cells)}")
        row: dict[str, Any] = {}
        for index, spec in self.slots:
            try:
                value = spec.parse(cells[index])
            except ValueError as exc:
                return BadRow(record.line, f"{spec.name}: {exc}")
            for column in spec.columns:
                row[column] = value
            for column, derive in spec.derived:
                row[column] = derive(value)
        parsed = _Parsed(row["barcode"], row)
        if self.kind.has_pins:
            problem = self._pin(cells, parsed)
            if problem is not None:
                return BadRow(record.line, problem)
        return parsed

    def _pin(self, cells: list[str], parsed: _Parsed) -> str | None:
        pin = cells[self.pin_at] if self.pin_at is not None else ""
        record = cells[self.hash_at].strip() if self.hash_at is not None else ""
        if pin and record:
            return "pin and pin_hash are both given; give one"
        if pin:
            assert self.policy is not None
            reason = self.policy.check(pin)
            if reason is not None:
                return f"pin: {reason}"
            parsed.pin = pin
        elif record:
            problem = importable_hash_problem(record, self.hasher)
            if problem is not None:
                return f"pin_hash: {problem}"
        parsed.row["pin_hash"] = record or None
        parsed.row["pin_must_change"] = not (pin or record)
        return None


def importable_hash_problem(record: str, hasher: SecretHasher | None) -> str | None:
    """Why ``record`` cannot be imported as a PIN hash, or None when it can.

    bcrypt hashes are checked by their shape only: checking one for real costs a full bcrypt
    run (tens of milliseconds), too much for a million rows; a damaged one simply never
    verifies, and staff reset that patron's PIN.
    """
    if record.startswith(("$2a$", "$2b$", "$2y$")):
        return None if _BCRYPT.fullmatch(record) else "malformed bcrypt hash"
    if hasher is None:
        return "cannot check a sip2d hash without the pepper"
    return hasher.import_problem(record)


# --------------------------------------------------------------------------- writing


def upsert_statement(engine: Engine, kind: ImportKind, header: list[str]) -> Insert:
    """INSERT .. ON CONFLICT (barcode) DO UPDATE for the columns this file carries."""
    table = kind.table
    on_postgresql = engine.dialect.name == "postgresql"
    ins: postgresql.Insert | sqlite.Insert = (
        postgresql.insert(table) if on_postgresql else sqlite.insert(table)
    )
    excluded = ins.excluded
    updates: dict[str, Any] = {}
    for name in header:
        spec = kind.fields.get(name)
        if spec is not None and name != "barcode":
            for column in spec.update_columns:
                updates[column] = excluded[column]
    if kind.has_pins:
        # No new PIN in the row: leave the stored PIN state exactly as it was.
        fresh = excluded.pin_hash.is_not(None)
        c = table.c
        updates["pin_hash"] = func.coalesce(excluded.pin_hash, c.pin_hash)
        updates["pin_must_change"] = case((fresh, false()), else_=c.pin_must_change)
        updates["pin_failures"] = case((fresh, 0), else_=c.pin_failures)
        updates["pin_locked_until"] = case((fresh, None), else_=c.pin_locked_until)
    updates["updated_at"] = utcnow()
    return ins.on_conflict_do_update(index_elements=[table.c.barcode], set_=updates)


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


class _RejectsWriter:
    """The rejects file: the original columns (PIN blanked) plus line and reason."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self._width = len(header)
        self._keep = [i for i, n in enumerate(header) if n not in REJECT_COLUMNS]
        self._pin_at = header.index("pin") if "pin" in header else None
        self._header = [header[i] for i in self._keep] + list(REJECT_COLUMNS)
        self._fh: IO[str] | None = None
        self._writer: Any = None
        self.count = 0

    def write(self, record: _Record, bad: BadRow) -> None:
        if self._fh is None:
            self._fh = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._fh)
            self._writer.writerow(self._header)
        self._writer.writerow([*self._cells(record.cells), str(bad.line), bad.reason])
        self.count += 1

    def _cells(self, cells: list[str]) -> list[str]:
        if len(cells) != self._width and self._pin_at is not None:
            # The fields of a ragged row are shifted, so the PIN could be in any of them.
            return [""] * len(self._keep)
        padded = cells[: self._width] + [""] * (self._width - len(cells))
        if self._pin_at is not None:
            padded[self._pin_at] = ""
        return [padded[i] for i in self._keep]

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class _Loader:
    """Hashes PINs on a thread pool and writes batches, one transaction each.

    Batch k+1's PINs are submitted before batch k is written, so the pool hashes while the
    main thread waits on the database; at most two batches are held at once.
    """

    def __init__(
        self, engine: Engine, statement: Insert, hasher: SecretHasher | None, workers: int
    ) -> None:
        self._engine = engine.execution_options(sqlite_write=True)
        self._statement = statement
        self._hasher = hasher
        self._pool = ThreadPoolExecutor(workers, "sip2d-hash") if hasher is not None else None
        self._pending: list[tuple[_Parsed, Future[str] | None]] = []
        self.loaded = 0
        self.hashed = 0

    def submit(self, batch: list[_Parsed]) -> None:
        jobs: list[tuple[_Parsed, Future[str] | None]] = []
        for parsed in batch:
            job = None
            if parsed.pin is not None:
                assert self._pool is not None and self._hasher is not None
                job = self._pool.submit(self._hasher.hash, parsed.pin)
                parsed.pin = None
            jobs.append((parsed, job))
        self._flush()
        self._pending = jobs

    def finish(self) -> None:
        self._flush()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = []
        for parsed, job in self._pending:
            if job is not None:
                parsed.row["pin_hash"] = job.result()
                self.hashed += 1
            rows.append(parsed.row)
        self._pending = []
        try:
            with self._engine.begin() as conn:
                conn.execute(self._statement, rows)
        except SQLAlchemyError as exc:
            raise StorageError(
                f"database error after {self.loaded} rows were loaded: {first_line(exc)}"
            ) from None
        self.loaded += len(rows)


def default_rejects_path(path: Path) -> Path:
    """``patrons.csv`` -> ``patrons.rejects.csv``."""
    if path.suffix.lower() == ".csv":
        return path.with_suffix(".rejects.csv")
    return path.with_name(path.name + ".rejects.csv")


def hash_workers(configured: int) -> int:
    """Threads for PIN hashing: the configured number, or one per CPU core when 0."""
    return configured if configured > 0 else (os.cpu_count() or 1)


def import_csv(
    engine: Engine,
    kind: ImportKind,
    path: str | os.PathLike[str],
    *,
    hasher: SecretHasher | None = None,
    policy: SecretPolicy | None = None,
    skip_invalid: bool = False,
    rejects_path: str | os.PathLike[str] | None = None,
    batch_rows: int = BATCH_ROWS,
    workers: int = 0,
    progress: Progress | None = None,
) -> ImportResult:
    """Import ``path`` as ``kind`` (:data:`PATRONS` or :data:`ITEMS`) into ``engine``'s database.

    Raises :class:`ImportFileError` for a file that cannot be read as a whole and
    :class:`ImportRefused` when rows are bad and ``skip_invalid`` is false; in both cases
    nothing has been written. ``hasher`` is needed when the file has a ``pin`` or ``pin_hash``
    column, ``policy`` when it has ``pin``.
    """
    file = Path(path)
    started = time.perf_counter()
    header = read_header(file, kind)
    parser = _Parser(kind, header, hasher, policy)

    bad_count = 0
    first_bad: list[BadRow] = []
    for record in _records(file, "checking", progress):
        outcome = parser.parse(record)
        if isinstance(outcome, BadRow):
            bad_count += 1
            if len(first_bad) < MAX_REPORTED:
                first_bad.append(outcome)
    if bad_count and not skip_invalid:
        raise ImportRefused(file, bad_count, first_bad)

    rejects: _RejectsWriter | None = None
    if skip_invalid:
        target = Path(rejects_path) if rejects_path else default_rejects_path(file)
        if target.resolve() == file.resolve():
            raise ImportFileError(f"{file}: the rejects file cannot be the file being imported")
        rejects = _RejectsWriter(target, header)
    before = _count(engine, kind.table)
    loader = _Loader(engine, upsert_statement(engine, kind, header), hasher, hash_workers(workers))
    try:
        batch: dict[str, _Parsed] = {}
        for record in _records(file, "loading", progress):
            outcome = parser.parse(record)
            if isinstance(outcome, BadRow):
                if rejects is None:
                    raise ImportFileError(
                        f"{file} changed while it was being imported ({outcome}); "
                        f"{loader.loaded} rows were loaded before it"
                    )
                rejects.write(record, outcome)
                continue
            # A barcode seen again must be applied after its earlier row, exactly as if the rows
            # were loaded one by one (an upsert may not touch one key twice in a statement).
            if outcome.barcode in batch:
                loader.submit(list(batch.values()))
                batch = {}
            batch[outcome.barcode] = outcome
            if len(batch) >= batch_rows:
                loader.submit(list(batch.values()))
                batch = {}
        if batch:
            loader.submit(list(batch.values()))
        loader.finish()
    finally:
        loader.close()
        if rejects is not None:
            rejects.close()
    inserted = _count(engine, kind.table) - before
    return ImportResult(
        kind=kind.name,
        loaded=loader.loaded,
        inserted=inserted,
        updated=loader.loaded - inserted,
        rejected=rejects.count if rejects is not None else 0,
        pins_hashed=loader.hashed,
        seconds=time.perf_counter() - started,
        rejects_path=rejects.path if rejects is not None and rejects.count else None,
    )
