"""A reusable check that a secret left no trace: ``assert_secret_absent``.

"Never in clear" is easy to claim and easy to break: a PIN can reach a log line, an exception,
a journal row, a SQLite WAL frame or a metrics label by accident. Any test that handles a PIN or
a kiosk password can pass everything it captured (text, bytes, files, directories) here. The
secret is searched for as UTF-8 text and in the encodings a leak usually takes: UTF-16-LE and
UTF-16-BE (Windows tools, some drivers), hex (either case) and base64 (standard and URL-safe,
without padding). A SQLite database path is checked together with its ``-wal``, ``-shm`` and
``-journal`` side files, which hold pages the main file may no longer show.

Failure messages say where and in which encoding, never the secret itself. Choose secrets that
cannot occur by chance in the haystack (six digits or more, or a long password): four digits
will, sooner or later, turn up inside random bytes.
"""

from __future__ import annotations

import base64
from pathlib import Path

SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")


def encodings_of(secret: str) -> dict[str, bytes]:
    """The byte patterns that betray ``secret``, by encoding name."""
    raw = secret.encode("utf-8")
    forms = {
        "utf-8": raw,
        "utf-16-le": secret.encode("utf-16-le"),
        "utf-16-be": secret.encode("utf-16-be"),
        "hex": raw.hex().encode("ascii"),
        "HEX": raw.hex().upper().encode("ascii"),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
    }
    return {name: pattern for name, pattern in forms.items() if pattern}


def _files_for(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    files = [path] if path.exists() else []
    for suffix in SIDE_FILE_SUFFIXES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            files.append(side)
    return files


def find_secret(secret: str, *haystacks: bytes | str | Path) -> list[str]:
    """Where ``secret`` occurs: one description per hit, naming place and encoding."""
    if not secret:
        raise ValueError("an empty secret is present everywhere; pass a real one")
    patterns = encodings_of(secret)
    hits: list[str] = []
    sources: list[tuple[str, bytes]] = []
    for index, hay in enumerate(haystacks):
        if isinstance(hay, Path):
            files = _files_for(hay)
            if not files:
                raise FileNotFoundError(f"nothing to scan at {hay}")
            sources.extend((str(f), f.read_bytes()) for f in files)
        elif isinstance(hay, str):
            sources.append((f"text #{index}", hay.encode("utf-8", "surrogatepass")))
        else:
            sources.append((f"bytes #{index}", bytes(hay)))
    for where, data in sources:
        for name, pattern in patterns.items():
            offset = data.find(pattern)
            if offset >= 0:
                hits.append(f"{where}: found as {name} at offset {offset}")
    return hits


def assert_secret_absent(secret: str, *haystacks: bytes | str | Path) -> None:
    """Fail (without showing the secret) if ``secret`` occurs in any haystack."""
    hits = find_secret(secret, *haystacks)
    assert not hits, "secret leaked: " + "; ".join(hits)
