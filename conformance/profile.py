"""The profile: what the suite may use on the system under test, read from a TOML file.

Why a file and not flags: a vendor runs the suite many times against one server, and the
barcodes, the kiosk account and the server's settings (encoding, error detection, terminator)
are facts about that server, so they belong in one reviewed file next to the vendor's CI
configuration. ``conformance/profiles/example.toml`` documents every key.

Secrets (the kiosk password, PINs, the terminal password) may be written in the file, or named
by ``<key>_env`` (an environment variable) or ``<key>_file`` (a file, relative to the profile,
whose first line is the secret), so a CI job never has to commit them. They are held as
:class:`Secret`, whose ``repr`` and ``str`` never show the value.

The file is read by the loader that reads the daemon's configuration (:mod:`sip2d.tomlschema`).
Every mistake of a file is reported at once in a :class:`ProfileError`, one line that names the
file and each key path, and unknown keys are errors too: a misspelt ``alow = true`` must not
silently do nothing.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from sip2d.config import sip_text_problem
from sip2d.protocol import SUPPORTED_ENCODINGS
from sip2d.tomlschema import Hidden, NumberAsText, Range, Rule, SchemaError, load

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
# The file's schema: one dataclass per table, read by the same loader as the daemon's config
# (sip2d.tomlschema), so every mistake of a file is reported at once with its key path.


def _encoding_problem(value: str) -> str | None:
    if value in SUPPORTED_ENCODINGS:
        return None
    return f"must be one of {', '.join(SUPPORTED_ENCODINGS)}; got {value!r}"


SipText = Annotated[str, NumberAsText(), Rule(sip_text_problem, "text without |, CR or LF")]
# A secret written in the file; the _env and _file variants name where to read it instead.
SecretText = Annotated[str, NumberAsText(), Hidden()]


@dataclasses.dataclass(frozen=True)
class _Connection:
    encoding: Annotated[str, Rule(_encoding_problem, "a supported encoding")] = "utf-8"
    error_detection: ErrorDetection = "auto"
    terminator: Terminator = "CR"
    timeout: Annotated[float, Range(0.05)] = 5.0
    institution_id: SipText = ""
    terminal_password: SecretText | None = None
    terminal_password_env: str | None = None
    terminal_password_file: str | None = None
    status_before_login: bool = True


@dataclasses.dataclass(frozen=True)
class _Login:
    user: SipText
    password: SecretText | None = None
    password_env: str | None = None
    password_file: str | None = None
    location: SipText = ""


@dataclasses.dataclass(frozen=True)
class _Patron:
    barcode: SipText
    pin: SecretText | None = None
    pin_env: str | None = None
    pin_file: str | None = None


@dataclasses.dataclass(frozen=True)
class _Item:
    barcode: SipText


@dataclasses.dataclass(frozen=True)
class _Invalid:
    patron: SipText = DEFAULT_INVALID_PATRON
    item: SipText = DEFAULT_INVALID_ITEM


@dataclasses.dataclass(frozen=True)
class _Changes:
    allow: bool = False


@dataclasses.dataclass(frozen=True)
class _Lockout:
    attempts: Annotated[int, Range(1)] = 5
    # The server's stated number of wrong PINs it verifies before locking (LK-02); unset skips.
    threshold: Annotated[int | None, Range(1)] = None


@dataclasses.dataclass(frozen=True)
class _Document:
    name: str | None = None
    connection: _Connection = dataclasses.field(default_factory=_Connection)
    login: _Login | None = None
    patron: _Patron | None = None
    second_patron: _Patron | None = None
    item: _Item | None = None
    invalid: _Invalid = dataclasses.field(default_factory=_Invalid)
    changes: _Changes = dataclasses.field(default_factory=_Changes)
    lockout: _Lockout = dataclasses.field(default_factory=_Lockout)
    kiosk: KioskExpectations = dataclasses.field(default_factory=KioskExpectations)
    lockout_patron: _Patron | None = None


class _Secrets:
    """Resolves ``key`` / ``key_env`` / ``key_file`` triples, collecting problems."""

    def __init__(self, path: Path, env: Mapping[str, str], problems: list[str]) -> None:
        self.path = path
        self.env = env
        self.problems = problems

    def get(self, table: Any, where: str, key: str, *, required: bool) -> Secret | None:
        given = {
            name: getattr(table, name)
            for name in (key, f"{key}_env", f"{key}_file")
            if getattr(table, name) is not None
        }
        if len(given) > 1:
            self.problems.append(f"{where}.{key}: give only one of {', '.join(given)}")
            return None
        if not given:
            if required:
                self.problems.append(f"{where}.{key}: missing: set {key}, {key}_env or {key}_file")
            return None
        ((name, value),) = given.items()
        if name.endswith("_env"):
            if value not in self.env:
                self.problems.append(f"{where}.{name}: environment variable {value} is not set")
                return None
            secret = self.env[value]
        elif name.endswith("_file"):
            file = Path(value)
            if not file.is_absolute():
                file = self.path.parent / file
            try:
                lines = file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                self.problems.append(f"{where}.{name}: cannot read {file}: {exc.strerror or exc}")
                return None
            secret = lines[0] if lines else ""
        else:
            secret = value
        if sip_text_problem(secret) is not None:
            # Never echo the value: it is a secret.
            self.problems.append(
                f"{where}.{name}: the secret contains |, CR or LF, which SIP2 cannot carry"
            )
            return None
        return Secret(secret)


def parse_profile(doc: Mapping[str, Any], path: Path, env: Mapping[str, str]) -> Profile:
    """Build a :class:`Profile` from a parsed TOML document (``path`` is for messages)."""
    try:
        raw: _Document = load(_Document, dict(doc))
    except SchemaError as exc:
        lines = [str(p) for p in exc.problems]
        if any(p.message == "unknown key" for p in exc.problems):
            lines.append("(every key is listed in conformance/profiles/example.toml)")
        raise _error(path, lines) from None
    problems: list[str] = []
    secrets = _Secrets(path, env, problems)
    conn = raw.connection
    terminal_password = secrets.get(conn, "connection", "terminal_password", required=False)
    login: Login | None = None
    if raw.login is not None:
        password = secrets.get(raw.login, "login", "password", required=True)
        if password is not None:
            login = Login(raw.login.user, password, raw.login.location)
    patrons: list[Patron | None] = []
    for where, table in (
        ("patron", raw.patron),
        ("second_patron", raw.second_patron),
        ("lockout_patron", raw.lockout_patron),
    ):
        pin = None if table is None else secrets.get(table, where, "pin", required=False)
        patrons.append(None if table is None else Patron(table.barcode, pin))
    patron, second, lockout_patron = patrons
    item = raw.item.barcode if raw.item is not None else None
    barcodes = [p.barcode for p in (patron, second, lockout_patron) if p is not None]
    if raw.invalid.patron in barcodes:
        problems.append("invalid.patron: must differ from the real patrons")
    if item is not None and raw.invalid.item == item:
        problems.append("invalid.item: must differ from [item] barcode")
    if patron is not None and second is not None and patron.barcode == second.barcode:
        problems.append("second_patron.barcode: must differ from [patron]")
    elif len(set(barcodes)) != len(barcodes):
        problems.append("lockout_patron.barcode: must differ from the other patrons")
    if problems:
        raise _error(path, problems)
    return Profile(
        name=raw.name if raw.name is not None else path.stem,
        encoding=conn.encoding,
        error_detection=conn.error_detection,
        terminator=conn.terminator,
        timeout=conn.timeout,
        institution_id=conn.institution_id,
        terminal_password=terminal_password or Secret(""),
        status_before_login=conn.status_before_login,
        login=login,
        patron=patron,
        second_patron=second,
        item=item,
        invalid_patron=raw.invalid.patron,
        invalid_item=raw.invalid.item,
        allow_changes=raw.changes.allow,
        lockout_attempts=raw.lockout.attempts,
        kiosk=raw.kiosk,
        source=str(path),
        lockout_threshold=raw.lockout.threshold,
        lockout_patron=lockout_patron,
    )


def _error(path: Path, problems: list[str]) -> ProfileError:
    """Every problem of the file on one line, for the person running the suite."""
    return ProfileError(f"{path}: {'; '.join(problems)}")


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
