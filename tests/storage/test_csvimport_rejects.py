"""Property: a rejected row comes back out of the rejects file exactly as it went in, in any
supported encoding and delimiter, with only the PIN cell blanked (issue #17 item 12)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from sip2d.storage.csvimport import (
    DELIMITERS,
    ENCODINGS,
    BadRow,
    FileFormat,
    _records,
    _RejectsWriter,
)

# Characters every supported encoding can write (cp850 and cp1252 share few beyond ASCII).
TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ 019,;\t\"'\n\r|-_éüÉ")), max_size=12)


def _csv_bytes(rows: list[list[str]], fmt: FileFormat, ending: str, quote_all: bool) -> bytes:
    out = io.StringIO()
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    csv.writer(out, delimiter=fmt.delimiter, lineterminator=ending, quoting=quoting).writerows(rows)
    return out.getvalue().encode(fmt.encoding)


@settings(max_examples=150, deadline=None)
@given(
    encoding=st.sampled_from(ENCODINGS),
    delimiter=st.sampled_from(DELIMITERS),
    ending=st.sampled_from(["\n", "\r\n"]),
    with_pin=st.booleans(),
    quote_all=st.booleans(),
    rows=st.lists(st.lists(TEXT, min_size=3, max_size=3), min_size=1, max_size=4),
)
def test_rejected_rows_round_trip(
    encoding: str,
    delimiter: str,
    ending: str,
    with_pin: bool,
    quote_all: bool,
    rows: list[list[str]],
) -> None:
    fmt = FileFormat(encoding, delimiter)
    header = ["barcode", "name", "pin" if with_pin else "email"]
    if not quote_all and ending == "\n":
        # A writer quotes a lone CR only when CR ends its lines; unquoted, it is not CSV.
        rows = [[cell.replace("\r", "") for cell in row] for row in rows]
    rows = [row for row in rows if any(cell for cell in row)]  # blank records are skipped
    data = _csv_bytes([header, *rows], fmt, ending, quote_all)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "in.csv"
        source.write_bytes(data)
        target = Path(scratch) / "rejects.csv"
        writer = _RejectsWriter(
            target, header, data.split(ending.encode(), 1)[0] + ending.encode(), fmt
        )
        for record in _records(source, "checking", None, fmt):
            writer.write(record, BadRow(record.line, 'bad; because, "reasons"'))
            if not with_pin:
                assert record.raw.decode(encoding).rstrip("\r\n") in data.decode(encoding)
        writer.close()
        written = target.read_bytes() if target.exists() else b""
    if not rows:
        assert written == b""
        return
    first_line = written.split(ending.encode(), 1)[0].decode(encoding)
    assert next(csv.reader([first_line], delimiter=delimiter)) == [*header, "line", "reason"]
    if not with_pin:  # the header line itself is kept byte for byte
        assert written.startswith(data.split(ending.encode(), 1)[0] + delimiter.encode())
    # Read back by the importer's own reader: the rejects file loads again.
    with tempfile.TemporaryDirectory() as scratch:
        again_path = Path(scratch) / "rejects.csv"
        again_path.write_bytes(written)
        back = [record.cells for record in _records(again_path, "checking", None, fmt)]
    assert len(back) == len(rows)
    for row, again in zip(rows, back, strict=True):
        kept = [*row[:2], ""] if with_pin else row
        assert again[:3] == kept
        assert again[4] == 'bad; because, "reasons"'
