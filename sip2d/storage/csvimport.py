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
  moves items. An empty cell does not erase what is stored either (exports often leave a
  field blank when they have nothing to say), unless ``clear_empty`` is given; rows are
  grouped by which cells they fill, one statement per group.
* A barcode given twice in one file is a bad row, every time it appears: which of the two
  the library meant is for a person to decide, not the file order. Pass 1 keeps one hash per
  row to notice repeats (73 MB for a million rows, measured); only when there are some does
  a further pass find their lines.
* Encodings and delimiters. The file is read in the encoding given (UTF-8 by default, with or
  without a byte-order mark; cp1252, latin-1 and cp850 for older exports); a line that does not
  decode is a bad row. The delimiter (``,``, ``;`` or tab) is the one that makes the header a
  list of known columns.
* Rejects keep the original bytes: a bad row is copied to the rejects file as it was read, in
  the file's encoding and delimiter, with ``line`` and ``reason`` appended, so it can be fixed
  and loaded again. The one exception is the PIN: where a file has a ``pin`` column, its
  cell is blanked (the row is written again cell by cell, every other cell byte for byte).
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

import codecs
import csv
import dataclasses
import io
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
from sip2d.storage.errors import StorageError, first_line
from sip2d.storage.models import BLOCKED_BY_STAFF, NOT_BLOCKED, items, patrons
from sip2d.storage.sqltime import utcnow

BATCH_ROWS = 1000
# Bad rows kept for the refusal message; the rest are only counted (constant memory).
MAX_REPORTED = 20
# Columns the rejects file adds; ignored on import so a corrected rejects file can be loaded.
REJECT_COLUMNS = ("line", "reason")
PROGRESS_STEP = 256 * 1024
ENCODINGS = ("utf-8", "cp1252", "latin-1", "cp850")
DELIMITERS = (",", ";", "\t")
# Decoding with this maps every byte to one character and back: cells cut out of raw bytes
# this way are the original bytes in any of ENCODINGS (their delimiters and quotes are ASCII,
# and no multi-byte UTF-8 sequence contains an ASCII byte).
_BYTES = "latin-1"
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")

Progress = Callable[[str, int, int], None]
"""Called with a phase name ("checking", "loading", ...), a number of bytes just read, and the
line number reached."""


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
    count bytes for the progress bar, report a line that does not decode as a bad row rather
    than dying in the middle of the file, and keep the raw bytes of the record being read for
    the rejects file.
    """

    def __init__(
        self, fh: IO[bytes], phase: str, progress: Progress | None, encoding: str = "utf-8"
    ) -> None:
        self._fh = fh
        self._phase = phase
        self._progress = progress
        self._encoding = encoding
        self._pending = 0
        self.line = 0
        self.undecodable: set[int] = set()
        # (line number, raw bytes) of the lines read since the last record was taken.
        self.raw: list[tuple[int, bytes]] = []

    def __iter__(self) -> Iterator[str]:
        for raw in self._fh:
            self.line += 1
            self.raw.append((self.line, raw))
            if self._progress is not None:
                self._pending += len(raw)
                if self._pending >= PROGRESS_STEP:
                    self._progress(self._phase, self._pending, self.line)
                    self._pending = 0
            try:
                text = raw.decode(self._encoding)
            except UnicodeDecodeError:
                self.undecodable.add(self.line)
                text = raw.decode(self._encoding, errors="replace")
            if self.line == 1:
                text = text.removeprefix("\ufeff")
            yield text
        if self._progress is not None and self._pending:
            self._progress(self._phase, self._pending, self.line)
            self._pending = 0

    def take_raw(self, start: int, end: int) -> bytes:
        """The raw bytes of lines ``start``..``end``, forgetting every line read so far."""
        taken = b"".join(raw for n, raw in self.raw if start <= n <= end)
        self.raw = []
        return taken


@dataclasses.dataclass
class _Record:
    line: int
    cells: list[str]
    undecodable: bool
    raw: bytes = b""


@dataclasses.dataclass(frozen=True)
class FileFormat:
    """How a file is written: its encoding and its delimiter."""

    encoding: str = "utf-8"
    delimiter: str = ","


def _records(
    path: Path, phase: str, progress: Progress | None, fmt: FileFormat = FileFormat()
) -> Iterator[_Record]:
    """Every non-blank record after the header, with the line it starts on."""
    with path.open("rb") as fh:
        lines = _Lines(fh, phase, progress, fmt.encoding)
        reader = csv.reader(lines, strict=True, delimiter=fmt.delimiter)
        try:
            next(reader, None)  # the header, checked by read_header
            lines.raw = []
            while True:
                start = reader.line_num + 1
                cells = next(reader, None)
                if cells is None:
                    return
                end = reader.line_num
                if not cells:
                    lines.raw = []
                    continue
                bad = any(start <= n <= end for n in lines.undecodable)
                lines.undecodable = {n for n in lines.undecodable if n > end}
                yield _Record(start, cells, bad, lines.take_raw(start, end))
        except csv.Error as exc:
            raise ImportFileError(
                f"{path}: line {reader.line_num}: not valid CSV ({exc}); nothing was imported"
            ) from None


def _header_line(path: Path, encoding: str) -> str:
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = first.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError:
        others = ", ".join(e for e in ENCODINGS if e != encoding)
        raise ImportFileError(
            f"{path}: the header line is not {_encoding_name(encoding)} "
            f"(is the file in another encoding? --encoding takes {others})"
        ) from None
    if not text.strip():
        raise ImportFileError(f"{path}: empty file (expected a header line with column names)")
    return text


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8" else encoding


def detect_format(path: Path, kind: ImportKind, encoding: str = "utf-8") -> tuple[list[str], str]:
    """The file's column names (trimmed, lower-case), checked against ``kind``, and the
    delimiter that splits the header into the most known columns (``,`` on a tie)."""
    if encoding not in ENCODINGS:
        raise ImportFileError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    text = _header_line(path, encoding)
    accepted = accepted_columns(kind)
    candidates: list[tuple[int, int, list[str], str]] = []
    for rank, delimiter in enumerate(DELIMITERS):
        try:
            names = next(csv.reader([text], strict=True, delimiter=delimiter))
        except csv.Error as exc:
            if delimiter == ",":
                raise ImportFileError(f"{path}: line 1: not valid CSV ({exc})") from None
            continue
        header = [name.strip().lower() for name in names]
        known = sum(1 for n in header if n in accepted or n in REJECT_COLUMNS)
        candidates.append((known, -rank, header, delimiter))
    _, _, header, delimiter = max(candidates)
    unknown = [n for n in header if n not in accepted and n not in REJECT_COLUMNS]
    if unknown:
        raise ImportFileError(
            f"{path}: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"{kind.name} files may have: {', '.join(accepted)} "
            "(separated by commas, semicolons or tabs)"
        )
    duplicated = sorted({n for n in header if header.count(n) > 1})
    if duplicated:
        raise ImportFileError(f"{path}: column(s) given twice: {', '.join(duplicated)}")
    missing = [n for n in kind.required if n not in header]
    if missing:
        raise ImportFileError(f"{path}: missing required column(s): {', '.join(missing)}")
    return header, delimiter


def read_header(path: Path, kind: ImportKind, encoding: str = "utf-8") -> list[str]:
    """The file's column names (trimmed, lower-case), checked against ``kind``."""
    return detect_format(path, kind, encoding)[0]


# --------------------------------------------------------------------------- parsing


@dataclasses.dataclass
class _Parsed:
    barcode: str
    row: dict[str, Any]
    # The fields whose cells were not empty: only these overwrite a stored value.
    present: frozenset[str] = frozenset()
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
        self.encoding = "utf-8"
        # Barcodes that appear more than once in the file -> the lines they appear on.
        self.repeated: dict[str, list[int]] = {}
        if (self.pin_at is not None or self.hash_at is not None) and hasher is None:
            raise ImportFileError("this file has a pin or pin_hash column but no hasher was given")
        if self.pin_at is not None and policy is None:
            raise ImportFileError("this file has a pin column but no PIN policy was given")

    def parse(self, record: _Record) -> _Parsed | BadRow:
        if record.undecodable:
            return BadRow(
                record.line, f"not valid {_encoding_name(self.encoding)} (see --encoding)"
            )
        cells = record.cells
        if len(cells) != self.width:
            return BadRow(record.line, f"expected {self.width} fields, found {len(cells)}")
        row: dict[str, Any] = {}
        present = []
        for index, spec in self.slots:
            if cells[index].strip():
                present.append(spec.name)
            try:
                value = spec.parse(cells[index])
            except ValueError as exc:
                return BadRow(record.line, f"{spec.name}: {exc}")
            for column in spec.columns:
                row[column] = value
            for column, derive in spec.derived:
                row[column] = derive(value)
        parsed = _Parsed(row["barcode"], row, frozenset(present))
        lines = self.repeated.get(parsed.barcode)
        if lines is not None:
            others = ", ".join(str(n) for n in lines if n != record.line)
            return BadRow(
                record.line,
                f"barcode {values.shown(parsed.barcode)} appears {len(lines)} times in this "
                f"file (also on line {others}); keep one row",
            )
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
    """INSERT .. ON CONFLICT (barcode) DO UPDATE for the columns named in ``header``."""
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
    """The rejects file: each bad row as it was read, plus ``line`` and ``reason`` cells.

    Written in the file's own encoding and delimiter, so the rows keep their bytes and the
    file loads again once corrected. Rows are copied verbatim unless the file has a ``pin``
    column (blanked) or already has ``line``/``reason`` columns (replaced, not repeated): then
    the row is cut into cells over its raw bytes and written again, each kept cell unchanged.
    """

    def __init__(self, path: Path, header: list[str], raw_header: bytes, fmt: FileFormat) -> None:
        self.path = path
        self._fmt = fmt
        self._width = len(header)
        self._keep = [i for i, n in enumerate(header) if n not in REJECT_COLUMNS]
        self._pin_at = header.index("pin") if "pin" in header else None
        self._verbatim = self._pin_at is None and len(self._keep) == self._width
        self._raw_header = raw_header
        self._fh: IO[bytes] | None = None
        self.count = 0

    def write(self, record: _Record, bad: BadRow) -> None:
        if self._fh is None:
            self._fh = self.path.open("wb")
            names = None
            if not self._verbatim:
                names = [self._cut(self._raw_header)[i] for i in self._keep]
            self._fh.write(self._line(self._raw_header, names, list(REJECT_COLUMNS)))
        cells = None if self._verbatim else self._cells(self._cut(record.raw))
        self._fh.write(self._line(record.raw, cells, [str(bad.line), bad.reason]))
        self.count += 1

    def _cut(self, raw: bytes) -> list[str]:
        """The cells of one raw record, each as its bytes (decoded byte for byte)."""
        text = raw.decode(_BYTES).removeprefix(codecs.BOM_UTF8.decode(_BYTES))
        return next(csv.reader(io.StringIO(text), delimiter=self._fmt.delimiter), [])

    def _cells(self, cells: list[str]) -> list[str]:
        if len(cells) != self._width and self._pin_at is not None:
            # The fields of a ragged row are shifted, so the PIN could be in any of them.
            return [""] * len(self._keep)
        padded = cells[: self._width] + [""] * (self._width - len(cells))
        if self._pin_at is not None:
            padded[self._pin_at] = ""
        return [padded[i] for i in self._keep]

    def _line(self, raw: bytes, cells: list[str] | None, added: list[str]) -> bytes:
        ending = b"\r\n" if raw.endswith(b"\r\n") else b"\n"
        # Added text in the file's encoding, then carried byte for byte like the cells.
        extra = [
            text.encode(self._fmt.encoding, errors="backslashreplace").decode(_BYTES)
            for text in added
        ]
        out = io.StringIO()
        # The writer's own terminator is what makes it quote a cell holding a line break.
        writer = csv.writer(out, delimiter=self._fmt.delimiter, lineterminator="\r\n")
        if cells is None:
            body = raw.rstrip(b"\r\n")
            writer.writerow(extra)
            added_text = out.getvalue().removesuffix("\r\n").encode(_BYTES)
            return body + self._fmt.delimiter.encode() + added_text + ending
        if raw is self._raw_header and raw.startswith(codecs.BOM_UTF8):
            out.write(codecs.BOM_UTF8.decode(_BYTES))  # a header keeps its byte-order mark
        writer.writerow([*cells, *extra])
        return out.getvalue().removesuffix("\r\n").encode(_BYTES) + ending

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
        self,
        engine: Engine,
        statement: Callable[[frozenset[str]], Insert],
        hasher: SecretHasher | None,
        workers: int,
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
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for parsed, job in self._pending:
            if job is not None:
                parsed.row["pin_hash"] = job.result()
                self.hashed += 1
            groups.setdefault(parsed.present, []).append(parsed.row)
        rows = len(self._pending)
        self._pending = []
        try:
            with self._engine.begin() as conn:
                for present, group in groups.items():
                    conn.execute(self._statement(present), group)
        except SQLAlchemyError as exc:
            raise StorageError(
                f"database error after {self.loaded} rows were loaded: {first_line(exc)}"
            ) from None
        self.loaded += rows


def default_rejects_path(path: Path) -> Path:
    """``patrons.csv`` -> ``patrons.rejects.csv``."""
    if path.suffix.lower() == ".csv":
        return path.with_suffix(".rejects.csv")
    return path.with_name(path.name + ".rejects.csv")


def hash_workers(configured: int) -> int:
    """Threads for PIN hashing: the configured number, or one per CPU core when 0."""
    return configured if configured > 0 else (os.cpu_count() or 1)


def _check(
    file: Path, parser: _Parser, fmt: FileFormat, phase: str, progress: Progress | None
) -> tuple[int, list[BadRow], set[int]]:
    """One checking pass: how many rows are bad, the first of them, and the hashes of the
    barcodes seen more than once (a hash per row, not the barcode: memory stays small)."""
    bad_count = 0
    first_bad: list[BadRow] = []
    seen: set[int] = set()
    repeats: set[int] = set()
    for record in _records(file, phase, progress, fmt):
        outcome = parser.parse(record)
        if isinstance(outcome, BadRow):
            bad_count += 1
            if len(first_bad) < MAX_REPORTED:
                first_bad.append(outcome)
            continue
        key = hash(outcome.barcode)
        if key in seen:
            repeats.add(key)
        else:
            seen.add(key)
    return bad_count, first_bad, repeats


def _repeated_barcodes(
    file: Path, parser: _Parser, fmt: FileFormat, repeats: set[int], progress: Progress | None
) -> dict[str, list[int]]:
    """The barcodes behind ``repeats`` that really appear more than once, with their lines."""
    lines: dict[str, list[int]] = {}
    for record in _records(file, "repeats", progress, fmt):
        outcome = parser.parse(record)
        if isinstance(outcome, _Parsed) and hash(outcome.barcode) in repeats:
            lines.setdefault(outcome.barcode, []).append(record.line)
    return {barcode: found for barcode, found in lines.items() if len(found) > 1}


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
    encoding: str = "utf-8",
    clear_empty: bool = False,
) -> ImportResult:
    """Import ``path`` as ``kind`` (:data:`PATRONS` or :data:`ITEMS`) into ``engine``'s database.

    Raises :class:`ImportFileError` for a file that cannot be read as a whole and
    :class:`ImportRefused` when rows are bad and ``skip_invalid`` is false; in both cases
    nothing has been written. ``hasher`` is needed when the file has a ``pin`` or ``pin_hash``
    column, ``policy`` when it has ``pin``. ``clear_empty`` lets an empty cell erase the stored
    value (by default it leaves it alone).
    """
    file = Path(path)
    started = time.perf_counter()
    header, delimiter = detect_format(file, kind, encoding)
    fmt = FileFormat(encoding, delimiter)
    parser = _Parser(kind, header, hasher, policy)
    parser.encoding = encoding

    bad_count, first_bad, repeats = _check(file, parser, fmt, "checking", progress)
    if repeats:
        parser.repeated = _repeated_barcodes(file, parser, fmt, repeats, progress)
        if parser.repeated:
            bad_count, first_bad, _ = _check(file, parser, fmt, "checking again", progress)
    if bad_count and not skip_invalid:
        raise ImportRefused(file, bad_count, first_bad)

    rejects: _RejectsWriter | None = None
    if skip_invalid:
        target = Path(rejects_path) if rejects_path else default_rejects_path(file)
        if target.resolve() == file.resolve():
            raise ImportFileError(f"{file}: the rejects file cannot be the file being imported")
        with file.open("rb") as fh:
            raw_header = fh.readline()
        rejects = _RejectsWriter(target, header, raw_header, fmt)
    before = _count(engine, kind.table)
    statements: dict[frozenset[str], Insert] = {}

    def statement(present: frozenset[str]) -> Insert:
        if clear_empty:
            present = frozenset(header)
        if present not in statements:
            named = [n for n in header if n in present or n == "barcode"]
            statements[present] = upsert_statement(engine, kind, named)
        return statements[present]

    loader = _Loader(engine, statement, hasher, hash_workers(workers))
    try:
        batch: list[_Parsed] = []
        for record in _records(file, "loading", progress, fmt):
            outcome = parser.parse(record)
            if isinstance(outcome, BadRow):
                if rejects is None:
                    raise ImportFileError(
                        f"{file} changed while it was being imported ({outcome}); "
                        f"{loader.loaded} rows were loaded before it"
                    )
                rejects.write(record, outcome)
                continue
            batch.append(outcome)
            if len(batch) >= batch_rows:
                loader.submit(batch)
                batch = []
        if batch:
            loader.submit(batch)
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
