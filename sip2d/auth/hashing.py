"""Storing PINs and kiosk passwords so that a stolen database reveals none of them.

Library PINs are usually four digits: 10,000 candidates. No hash function, however slow, makes
10,000 guesses expensive for long, so a database dump alone must not be enough to test a guess.
Each secret is therefore keyed first with HMAC-SHA256 under a *pepper* (a random key kept
outside the database, in a file or an environment variable) and only then hashed with argon2id,
which makes each guess cost memory and time for whoever does hold the pepper.

A stored record names everything needed to verify it later::

    $sip2d$k=<pepper key id>$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>

so the pepper and the argon2 cost can both change without a flag day: records made under an
old pepper (configured in ``auth.old_pepper_files``) or old parameters still verify, and the
successful verification hands back a replacement record (:attr:`Verification.upgraded`) that
the caller stores. bcrypt hashes imported from another system (``$2a$``/``$2b$``/``$2y$``) are
verified against the clear secret once and replaced in the same way.

Unknown patrons, patrons without a PIN and malformed records all run one full argon2
verification against a dummy record made at start-up with the current parameters, so the
answer time does not tell a kiosk which barcodes exist.

Neither the secret nor the pepper ever appears in an exception, a log line or a repr.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import bcrypt
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sip2d.config import Argon2Config, AuthConfig

log = logging.getLogger("sip2d.auth")

PEPPER_BYTES: Final = 32
# First line of a pepper file / value of the environment variable:
#   sip2d-pepper-1 <key id> <base64 of 32 random bytes>
PEPPER_TAG: Final = "sip2d-pepper-1"
RECORD_PREFIX: Final = "$sip2d$k="
BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")
# bcrypt only ever looked at the first 72 bytes; legacy systems relied on that silently.
BCRYPT_MAX_BYTES: Final = 72
# Named argon2id costs offered to operators (measured by `sip2d auth measure`). "default" is
# the OWASP minimum and the config default; "fast" trades memory for time at equal strength
# per OWASP; "strong" is the RFC 9106 / argon2-cffi default for sites with CPU to spare.
PROFILES: Final[Mapping[str, Argon2Config]] = {
    "fast": Argon2Config(memory_kib=12 * 1024, time_cost=3, parallelism=1),
    "default": Argon2Config(memory_kib=19 * 1024, time_cost=2, parallelism=1),
    "strong": Argon2Config(memory_kib=64 * 1024, time_cost=3, parallelism=4),
}
GEN_PEPPER_HINT: Final = (
    "create one with `sip2d auth gen-pepper --out FILE` and set auth.pepper_file = FILE "
    "(or put the file's text in the environment variable named by auth.pepper_env)"
)


class PepperError(Exception):
    """The pepper cannot be loaded; the message says what to fix and never shows the key."""


def key_id_for(key: bytes) -> str:
    """A short public name for a pepper: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:8]


class Pepper:
    """A secret HMAC key and its public key id. The repr shows only the id."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) < PEPPER_BYTES:
            raise PepperError(f"pepper key is too short: need {PEPPER_BYTES} bytes")
        self._key = bytes(key)
        self.key_id = key_id_for(self._key)

    @classmethod
    def generate(cls) -> Pepper:
        return cls(secrets.token_bytes(PEPPER_BYTES))

    @classmethod
    def from_text(cls, text: str, source: str) -> Pepper:
        """Parse the text written by :meth:`to_text`; ``source`` names where it came from."""
        parts = text.strip().split()
        if len(parts) != 3 or parts[0] != PEPPER_TAG:
            raise PepperError(
                f"{source}: not a sip2d pepper (expected one line '{PEPPER_TAG} <key id> <key>'); "
                + GEN_PEPPER_HINT
            )
        _, key_id, encoded = parts
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise PepperError(f"{source}: the pepper key is not valid base64") from None
        if len(key) < PEPPER_BYTES:
            raise PepperError(
                f"{source}: the pepper key is too short ({len(key)} bytes, need {PEPPER_BYTES}); "
                + GEN_PEPPER_HINT
            )
        pepper = cls(key)
        if pepper.key_id != key_id:
            raise PepperError(
                f"{source}: key id {key_id} does not match the key (damaged or edited file)"
            )
        return pepper

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Pepper:
        """Load a pepper file, refusing one that other users could read."""
        file = Path(path)
        try:
            mode = file.stat().st_mode
            if not stat.S_ISREG(mode):
                raise PepperError(f"pepper file {file}: not a regular file")
            if mode & (stat.S_IROTH | stat.S_IWOTH):
                raise PepperError(
                    f"pepper file {file}: readable or writable by every user "
                    f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {file}`"
                )
            # Undecodable bytes become U+FFFD and fail the format check below.
            text = file.read_text(encoding="ascii", errors="replace")
        except PepperError:
            raise
        except FileNotFoundError:
            raise PepperError(f"pepper file {file}: not found; " + GEN_PEPPER_HINT) from None
        except OSError as exc:
            raise PepperError(
                f"pepper file {file}: cannot read it ({exc.strerror or type(exc).__name__})"
            ) from None
        return cls.from_text(text, f"pepper file {file}")

    def to_text(self) -> str:
        """The one-line text form stored in a pepper file or an environment variable."""
        return f"{PEPPER_TAG} {self.key_id} {base64.b64encode(self._key).decode('ascii')}\n"

    def mac(self, secret: str) -> bytes:
        """HMAC-SHA256 of the secret under this pepper: what argon2 actually hashes."""
        return hmac.new(self._key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def derived_key(self, purpose: str) -> bytes:
        """A key of its own for ``purpose``, derived from the pepper (never the pepper itself),
        so a digest made for one use can never be replayed as another's."""
        label = b"sip2d derived key\x00" + purpose.encode("ascii")
        return hmac.new(self._key, label, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"Pepper(key_id={self.key_id!r})"


@dataclasses.dataclass(frozen=True, slots=True)
class Verification:
    """The answer of :meth:`PinHasher.verify`.

    ``upgraded`` is a new record to store in place of the old one after a successful check that
    used an old pepper, old argon2 parameters or bcrypt; None when nothing needs to change.
    """

    ok: bool
    upgraded: str | None = None


class PinHasher:
    """Hash and verify PINs and kiosk passwords (argon2id over an HMAC under the pepper).

    Thread-safe and blocking: run :meth:`hash` and :meth:`verify` in worker threads.
    """

    def __init__(
        self,
        params: Argon2Config,
        pepper: Pepper,
        old_peppers: Iterable[Pepper] = (),
    ) -> None:
        self.params = params
        self._argon2 = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._pepper = pepper
        self._tag_keys: dict[str, bytes] = {}
        self._peppers: dict[str, Pepper] = {p.key_id: p for p in old_peppers}
        self._peppers[pepper.key_id] = pepper
        # Verified against whenever there is no real record, so that path costs the same.
        self._dummy = self._argon2.hash(secrets.token_bytes(32))

    @classmethod
    def from_config(cls, auth: AuthConfig, env: Mapping[str, str] | None = None) -> PinHasher:
        """Build the hasher from ``[auth]``: pepper from the file or environment variable."""
        env = os.environ if env is None else env
        if auth.pepper_file:
            pepper = Pepper.from_file(auth.pepper_file)
        elif auth.pepper_env and env.get(auth.pepper_env):
            pepper = Pepper.from_text(
                env[auth.pepper_env], f"environment variable {auth.pepper_env}"
            )
        else:
            where = (
                f"auth.pepper_file is empty and the environment variable {auth.pepper_env} "
                "is not set"
                if auth.pepper_env
                else "auth.pepper_file and auth.pepper_env are both empty"
            )
            raise PepperError(f"no PIN pepper configured: {where}; " + GEN_PEPPER_HINT)
        old = [Pepper.from_file(path) for path in auth.old_pepper_files]
        return cls(auth.argon2, pepper, old)

    @property
    def key_id(self) -> str:
        """The key id new records are made with."""
        return self._pepper.key_id

    def tag(self, text: str, purpose: str) -> str:
        """A keyed digest of ``text`` (32 hex digits), the same on every daemon with this pepper.

        For values that must be compared or counted but never kept readable, such as the login
        name of a refused 93 (people type passwords into it). Unlike a plain hash, a digest
        under a key kept outside the database cannot be tested against a list of guesses.
        """
        key = self._tag_keys.get(purpose)
        if key is None:
            key = self._tag_keys[purpose] = self._pepper.derived_key(purpose)
        data = text.encode("utf-8", "surrogatepass")
        return hmac.new(key, data, hashlib.sha256).hexdigest()[:32]

    def derived_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` derived from the current pepper (self-service tokens, CSRF)."""
        return self._pepper.derived_key(purpose)

    @property
    def old_key_ids(self) -> list[str]:
        """Key ids of the retired peppers still accepted for verification."""
        return sorted(set(self._peppers) - {self.key_id})

    def __repr__(self) -> str:
        p = self.params
        return (
            f"PinHasher(key_id={self.key_id!r}, old={self.old_key_ids}, "
            f"m={p.memory_kib}, t={p.time_cost}, p={p.parallelism})"
        )

    def hash(self, secret: str) -> str:
        """A new record for ``secret`` under the current pepper and parameters."""
        encoded = self._argon2.hash(self._pepper.mac(secret))
        return f"{RECORD_PREFIX}{self._pepper.key_id}{encoded}"

    def verify(self, record: str | None, secret: str) -> Verification:
        """Check ``secret`` against ``record`` (None = no PIN / unknown patron: always fails).

        Never raises for a bad record: a record this hasher cannot use fails the check after
        the same work as a wrong secret, and is logged (without the secret) for staff.
        """
        if record is not None and record.startswith(BCRYPT_PREFIXES):
            return self._verify_bcrypt(record, secret)
        parsed = _split_record(record) if record is not None else None
        if record is not None and parsed is None:
            log.warning("unusable PIN or password record (not a sip2d or bcrypt hash)")
        pepper = None
        if parsed is not None:
            pepper = self._peppers.get(parsed[0])
            if pepper is None:
                log.warning(
                    "record made with pepper key id %s, which is not configured "
                    "(add its file to auth.old_pepper_files)",
                    parsed[0],
                )
        if parsed is None or pepper is None:
            self._burn(secret)
            return Verification(ok=False)
        key_id, encoded = parsed
        try:
            self._argon2.verify(encoded, pepper.mac(secret))
        except VerifyMismatchError:
            return Verification(ok=False)
        except (VerificationError, InvalidHashError):
            log.warning("unusable argon2 record with pepper key id %s", key_id)
            return Verification(ok=False)
        stale = key_id != self.key_id or self._argon2.check_needs_rehash(encoded)
        return Verification(ok=True, upgraded=self.hash(secret) if stale else None)

    def is_importable(self, record: str) -> bool:
        """True when ``record`` can be stored as a hash this hasher will be able to verify."""
        return self.import_problem(record) is None

    def import_problem(self, record: str) -> str | None:
        """Why ``record`` cannot be imported as a PIN/password hash, or None when it can."""
        if record.startswith(BCRYPT_PREFIXES):
            try:
                # Checking against a dummy validates the salt and cost fields.
                bcrypt.checkpw(b"", record.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                return "malformed bcrypt hash"
            return None
        parsed = _split_record(record)
        if parsed is None:
            return "not a sip2d ($sip2d$k=...) or bcrypt ($2a$/$2b$/$2y$) hash"
        if parsed[0] not in self._peppers:
            return f"made with pepper key id {parsed[0]}, which is not configured"
        return None

    def _verify_bcrypt(self, record: str, secret: str) -> Verification:
        try:
            ok = bcrypt.checkpw(
                secret.encode("utf-8", "surrogatepass")[:BCRYPT_MAX_BYTES], record.encode("ascii")
            )
        except (ValueError, UnicodeEncodeError):
            log.warning("unusable bcrypt record")
            self._burn(secret)
            return Verification(ok=False)
        return Verification(ok=True, upgraded=self.hash(secret)) if ok else Verification(ok=False)

    def _burn(self, secret: str) -> None:
        """Spend what a real verification costs, against the dummy record."""
        with contextlib.suppress(VerificationError):
            self._argon2.verify(self._dummy, self._pepper.mac(secret))


def _split_record(record: str) -> tuple[str, str] | None:
    """(key id, argon2 encoded hash) of a sip2d record, or None when it is not one."""
    if not record.startswith(RECORD_PREFIX):
        return None
    key_id, dollar, rest = record[len(RECORD_PREFIX) :].partition("$")
    if not dollar or not key_id or not rest.startswith("argon2id$"):
        return None
    encoded = "$" + rest
    try:
        extract_parameters(encoded)
    except InvalidHashError:
        return None
    return key_id, encoded


def record_kind(record: str | None) -> tuple[str, str]:
    """(pepper key id, hashing scheme with its cost) of a stored record, for census counts.

    Never returns anything secret: the key id is public and the parameters are the cost. A
    record that is neither sip2d's nor an importable bcrypt hash is ``("-", "unrecognised")``.
    """
    if record is None:
        return "-", "none"
    split = _split_record(record)
    if split is not None:
        key_id, encoded = split
        p = extract_parameters(encoded)
        return key_id, f"argon2id m={p.memory_cost} t={p.time_cost} p={p.parallelism}"
    if record.startswith(("$2a$", "$2b$", "$2y$")):
        return "-", "bcrypt (imported, replaced at next use)"
    return "-", "unrecognised"
