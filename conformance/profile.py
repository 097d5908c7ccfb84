"""The profile: what the suite may use on the system under test, read from a TOML file.

Why a file and not flags: a vendor runs the suite many times against one server, and the
barcodes, the kiosk account and the server's settings (encoding, error detection, terminator)
are facts about that server, so they belong in one reviewed file next to the vendor's CI
configuration. ``conformance/profiles/example.toml`` documents every key.

Secrets (the kiosk password, PINs, the terminal password) may be written in the file, or named
by ``<key>_env`` (an environment variable) or ``<key>_file`` (a file, relative to the profile,
whose first line is the secret), so a CI job never has to commit them. They are held as
:class:`Secret`, whose ``repr`` and ``str`` never show the value.

Every mistake is a :class:`ProfileError` with one line that names the file, the table and the
key, and unknown keys are errors too: a misspelt ``alow = true`` must not silently do nothing.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from sip2d.protocol import SUPPORTED_ENCODINGS

ErrorDetection = Literal["auto", "always", "never"]
Terminator = Literal["CR", "CRLF"]

DEFAULT_INVALID_PATRON = "0000000000"
DEFAULT_INVALID_ITEM = "0000000000"


class ProfileError(Exception):
    """The profile cannot be used; the message is one line for the person running the suite."""


@dataclasses.dataclass(frozen=True, slots=True)
class Secret:
    """A password or PIN. Only :meth:`reveal` gives the value; repr and str mask it."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    user: str
    password: Secret
    location: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Patron:
    barcode: str
    pin: Secret | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class KioskExpectations:
    """Kiosk mode: the session shape the kiosk under test is configured for."""

    login_first: bool = True
    end_session: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """Everything the suite knows about the system under test."""

    name: str = "unnamed profile"
    encoding: str = "utf-8"
    error_detection: ErrorDetection = "auto"
    terminator: Terminator = "CR"
    timeout: float = 5.0
    institution_id: str = ""
    terminal_password: Secret = Secret("")
    status_before_login: bool = True
    login: Login | None = None
    patron: Patron | None = None
    second_patron: Patron | None = None
    item: str | None = None
    invalid_patron: str = DEFAULT_INVALID_PATRON
    invalid_item: str = DEFAULT_INVALID_ITEM
    allow_changes: bool = False
    lockout_attempts: int = 5
    kiosk: KioskExpectations = KioskExpectations()
    source: str = "<built in code>"
    # The parallel-guessing check (LK-02): the most PINs the server says it verifies for one
    # patron between two right ones however they are sent (None: ``lockout_attempts``), and
    # the patron it may lock (not the first two, which other checks use).
    lockout_threshold: int | None = None
    lockout_patron: Patron | None = None

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for masking; empty ones are left out (nothing to hide)."""
        found: list[Secret] = [self.terminal_password]
        if self.login is not None:
            found.append(self.login.password)
        for patron in (self.patron, self.second_patron, self.lockout_patron):
            if patron is not None and patron.pin is not None:
                found.append(patron.pin)
        return tuple(s.reveal() for s in found if s)

    @property
    def terminator_bytes(self) -> bytes:
        return b"\r\n" if self.terminator == "CRLF" else b"\r"


# --- loading ------------------------------------------------------------------------------------

_TOP_KEYS = {"name", "connection", "login", "patron", "second_patron", "item", "invalid"}
_TOP_KEYS |= {"changes", "lockout", "kiosk", "lockout_patron"}


class _Reader:
    """Typed access to one table of the TOML document, with errors that say where."""

    def __init__(self, table: Mapping[str, Any], where: str, path: Path, env: Mapping[str, str]):
        self.table = table
        self.where = where
        self.path = path
        self.env = env
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(f"{self.path}: {self.where}{key}: {problem}")

    def _get(self, key: str) -> Any:
        self.used.add(key)
        return self.table.get(key)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key)
        if value is None:
            if required:
                raise self.fail(key, "missing (required)")
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # barcodes written as bare numbers
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type(value).__name__}")
        if "|" in value or "\r" in value or "\n" in value:
            raise self.fail(key, "must not contain |, CR or LF (they cannot travel in SIP2)")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def number(self, key: str, default: float, *, minimum: float, integer: bool = False) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "must be a number")
        if integer and not isinstance(value, int):
            raise self.fail(key, "must be a whole number")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, default)
        assert value is not None
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def secret(self, key: str, *, required: bool) -> Secret | None:
        """``key``, ``key_env`` or ``key_file``: exactly one of them (or none when optional)."""
        given = [name for name in (key, f"{key}_env", f"{key}_file") if name in self.table]
        self.used.update((key, f"{key}_env", f"{key}_file"))
        if len(given) > 1:
            raise self.fail(key, f"give only one of {', '.join(given)}")
        if not given:
            if required:
                raise self.fail(key, f"missing: set {key}, {key}_env or {key}_file")
            return None
        name = given[0]
        value = self.table[name]
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self.fail(name, "must be a string")
        value = str(value)
        if name.endswith("_env"):
            if value not in self.env:
                raise self.fail(name, f"environment variable {value} is not set")
            secret = self.env[value]
        elif name.endswith("_file"):
            file = Path(value)
            if not file.is_absolute():
                file = self.path.parent / file
            try:
                lines = file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise self.fail(name, f"cannot read {file}: {exc.strerror or exc}") from None
            secret = lines[0] if lines else ""
        else:
            secret = value
        if "|" in secret or "\r" in secret or "\n" in secret:
            # Never echo the value: it is a secret.
            raise self.fail(name, "the secret contains |, CR or LF, which SIP2 cannot carry")
        return Secret(secret)

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key (see conformance/profiles/example.toml)")


def _table(doc: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProfileError(f"{path}: [{key}] must be a table")
    return value


def _patron(doc: Mapping[str, Any], key: str, path: Path, env: Mapping[str, str]) -> Patron | None:
    table = _table(doc, key, path)
    if table is None:
        return None
    reader = _Reader(table, f"[{key}] ", path, env)
    barcode = reader.text("barcode", required=True)
    assert barcode is not None
    pin = reader.secret("pin", required=False)
    reader.finish()
    return Patron(barcode, pin)


def parse_profile(doc: Mapping[str, Any], path: Path, env: Mapping[str, str]) -> Profile:
    """Build a :class:`Profile` from a parsed TOML document (``path`` is for messages)."""
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ProfileError(f"{path}: {unknown[0]}: unknown key (see profiles/example.toml)")
    name = doc.get("name", path.stem)
    if not isinstance(name, str):
        raise ProfileError(f"{path}: name: must be a string")

    conn = _Reader(_table(doc, "connection", path) or {}, "[connection] ", path, env)
    encoding = conn.choice("encoding", "utf-8", SUPPORTED_ENCODINGS)
    error_detection = conn.choice("error_detection", "auto", ("auto", "always", "never"))
    terminator = conn.choice("terminator", "CR", ("CR", "CRLF"))
    timeout = conn.number("timeout", 5.0, minimum=0.05)
    institution = conn.text("institution_id", "") or ""
    terminal_password = conn.secret("terminal_password", required=False) or Secret("")
    status_before_login = conn.flag("status_before_login", True)
    conn.finish()

    login: Login | None = None
    login_table = _table(doc, "login", path)
    if login_table is not None:
        reader = _Reader(login_table, "[login] ", path, env)
        user = reader.text("user", required=True)
        password = reader.secret("password", required=True)
        location = reader.text("location", "") or ""
        reader.finish()
        assert user is not None and password is not None
        login = Login(user, password, location)

    item: str | None = None
    item_table = _table(doc, "item", path)
    if item_table is not None:
        reader = _Reader(item_table, "[item] ", path, env)
        item = reader.text("barcode", required=True)
        reader.finish()

    invalid = _Reader(_table(doc, "invalid", path) or {}, "[invalid] ", path, env)
    invalid_patron = invalid.text("patron", DEFAULT_INVALID_PATRON) or DEFAULT_INVALID_PATRON
    invalid_item = invalid.text("item", DEFAULT_INVALID_ITEM) or DEFAULT_INVALID_ITEM
    invalid.finish()

    changes = _Reader(_table(doc, "changes", path) or {}, "[changes] ", path, env)
    allow_changes = changes.flag("allow", False)
    changes.finish()

    lockout = _Reader(_table(doc, "lockout", path) or {}, "[lockout] ", path, env)
    attempts = int(lockout.number("attempts", 5, minimum=1, integer=True))
    threshold_value = lockout.number("threshold", 0, minimum=1, integer=True)
    threshold = int(threshold_value) if "threshold" in lockout.table else None
    lockout.finish()

    kiosk = _Reader(_table(doc, "kiosk", path) or {}, "[kiosk] ", path, env)
    expectations = KioskExpectations(
        login_first=kiosk.flag("login_first", True), end_session=kiosk.flag("end_session", True)
    )
    kiosk.finish()

    patron = _patron(doc, "patron", path, env)
    second = _patron(doc, "second_patron", path, env)
    lockout_patron = _patron(doc, "lockout_patron", path, env)
    barcodes = [p.barcode for p in (patron, second, lockout_patron) if p is not None]
    if invalid_patron in barcodes:
        raise ProfileError(f"{path}: [invalid] patron: must differ from the real patrons")
    if item is not None and invalid_item == item:
        raise ProfileError(f"{path}: [invalid] item: must differ from [item] barcode")
    if patron is not None and second is not None and patron.barcode == second.barcode:
        raise ProfileError(f"{path}: [second_patron] barcode: must differ from [patron]")
    if len(set(barcodes)) != len(barcodes):
        raise ProfileError(f"{path}: [lockout_patron] barcode: must differ from the others")

    return Profile(
        name=name,
        encoding=encoding,
        error_detection=error_detection,  # type: ignore[arg-type]
        terminator=terminator,  # type: ignore[arg-type]
        timeout=float(timeout),
        institution_id=institution,
        terminal_password=terminal_password,
        status_before_login=status_before_login,
        login=login,
        patron=patron,
        second_patron=second,
        item=item,
        invalid_patron=invalid_patron,
        invalid_item=invalid_item,
        allow_changes=allow_changes,
        lockout_attempts=attempts,
        kiosk=expectations,
        source=str(path),
        lockout_threshold=threshold,
        lockout_patron=lockout_patron,
    )


def load_profile(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Profile:
    """Read and check a profile file. ``env`` defaults to the process environment."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{file}: cannot read profile: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(f"{file}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{file}: not valid TOML: {exc}") from None
    return parse_profile(doc, file, os.environ if env is None else env)
