"""PinHasher and Pepper: records, upgrades, rotation, bcrypt import, the dummy path, and the
errors an operator sees when the pepper is missing or unsafe."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import VerifyMismatchError

from sip2d.auth.hashing import PEPPER_TAG, Pepper, PepperError, PinHasher, Verification
from sip2d.config import Argon2Config, AuthConfig
from tests.auth.conftest import CHEAP
from tests.auth.secret_scan import assert_secret_absent

PIN = "730519"


def write_pepper(path: Path, pepper: Pepper, mode: int = 0o600) -> Path:
    path.write_text(pepper.to_text(), encoding="ascii")
    path.chmod(mode)
    return path


def argon2_part(record: str) -> str:
    return "$" + record.split("$", 3)[3]


def test_record_names_key_id_and_parameters(hasher: PinHasher, pepper: Pepper) -> None:
    record = hasher.hash(PIN)
    assert record.startswith(f"$sip2d$k={pepper.key_id}$argon2id$v=19$m=64,t=1,p=1$")
    assert hasher.hash(PIN) != record, "records must be salted"
    assert hasher.verify(record, PIN) == Verification(ok=True, upgraded=None)
    assert hasher.verify(record, "730518") == Verification(ok=False)
    assert_secret_absent(PIN, record)


def test_argon2_hash_alone_does_not_verify_the_pin(hasher: PinHasher) -> None:
    # What a database thief holds: the argon2 hash is of HMAC(pepper, PIN), not of the PIN,
    # so trying PINs against it with argon2 alone never succeeds.
    inner = argon2_part(hasher.hash(PIN))
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(inner, PIN)


def test_changed_parameters_verify_and_upgrade(pepper: Pepper) -> None:
    old = PinHasher(CHEAP, pepper).hash(PIN)
    stronger = PinHasher(Argon2Config(memory_kib=128, time_cost=2), pepper)
    result = stronger.verify(old, PIN)
    assert result.ok and result.upgraded is not None
    params = extract_parameters(argon2_part(result.upgraded))
    assert (params.memory_cost, params.time_cost) == (128, 2)
    assert stronger.verify(result.upgraded, PIN) == Verification(ok=True, upgraded=None)
    assert stronger.verify(old, "000000").upgraded is None


def test_pepper_rotation_with_old_pepper_file(tmp_path: Path) -> None:
    old_pepper, new_pepper = Pepper.generate(), Pepper.generate()
    old_file = write_pepper(tmp_path / "old.pepper", old_pepper)
    new_file = write_pepper(tmp_path / "new.pepper", new_pepper)
    record = PinHasher(CHEAP, old_pepper).hash(PIN)

    rotated = PinHasher.from_config(
        AuthConfig(argon2=CHEAP, pepper_file=str(new_file), old_pepper_files=[str(old_file)]),
        env={},
    )
    assert rotated.key_id == new_pepper.key_id
    assert rotated.old_key_ids == [old_pepper.key_id]
    assert rotated.is_importable(record)
    result = rotated.verify(record, PIN)
    assert result.ok and result.upgraded is not None
    assert result.upgraded.startswith(f"$sip2d$k={new_pepper.key_id}$")
    assert rotated.verify(result.upgraded, PIN) == Verification(ok=True, upgraded=None)
    assert not rotated.verify(record, "730518").ok


def test_record_from_unconfigured_pepper_fails_and_is_logged(
    hasher: PinHasher, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = PinHasher(CHEAP, Pepper.generate())
    record = stranger.hash(PIN)
    with caplog.at_level(logging.WARNING, logger="sip2d.auth"):
        assert hasher.verify(record, PIN) == Verification(ok=False)
    assert stranger.key_id in caplog.text and "old_pepper_files" in caplog.text
    assert not hasher.is_importable(record)
    problem = hasher.import_problem(record)
    assert problem is not None and stranger.key_id in problem
    assert_secret_absent(PIN, caplog.text)


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_bcrypt_records_verify_and_upgrade(hasher: PinHasher, prefix: str) -> None:
    legacy = prefix + bcrypt.hashpw(PIN.encode(), bcrypt.gensalt(4)).decode()[4:]
    assert hasher.is_importable(legacy)
    assert hasher.verify(legacy, "730518") == Verification(ok=False)
    result = hasher.verify(legacy, PIN)
    assert result.ok and result.upgraded is not None
    assert result.upgraded.startswith(f"$sip2d$k={hasher.key_id}$argon2id$")
    assert hasher.verify(result.upgraded, PIN) == Verification(ok=True, upgraded=None)


def test_bcrypt_long_secret_keeps_legacy_72_byte_meaning(hasher: PinHasher) -> None:
    password = "k" * 80
    legacy = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4)).decode()
    assert hasher.verify(legacy, password).ok


@pytest.mark.parametrize(
    "record",
    [
        "junk",
        "",
        "$2b$04$tooshort",
        "$sip2d$k=abc$argon2id$v=19$m=64,t=1,p=1$bad",
        "$sip2d$k=$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$sip2d$k=1234abcd$bcrypt",
        "é",
    ],
)
def test_unusable_records_fail_without_raising(hasher: PinHasher, record: str) -> None:
    assert hasher.verify(record, PIN) == Verification(ok=False)
    assert not hasher.is_importable(record)
    assert hasher.import_problem(record)


def test_odd_secrets_never_raise(hasher: PinHasher) -> None:
    for secret in ("", "\ud800", "é" * 50, "\x00"):
        record = hasher.hash(secret)
        assert hasher.verify(record, secret).ok
        assert not hasher.verify(record, secret + "x").ok


def _count_argon2_verifies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real: Callable[..., Any] = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        seen.append(hash if isinstance(hash, str) else hash.decode())
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return seen


def test_unknown_no_pin_and_wrong_pin_all_run_one_argon2_verify(
    hasher: PinHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = hasher.hash(PIN)
    stranger = PinHasher(CHEAP, Pepper.generate()).hash(PIN)
    seen = _count_argon2_verifies(monkeypatch)
    for candidate in (None, record, "junk", stranger):
        before = len(seen)
        assert not hasher.verify(candidate, "111111").ok
        assert len(seen) == before + 1, f"record {candidate!r:.20} skipped argon2"
        # Same cost: the dummy is made with the current parameters.
        params = extract_parameters(seen[-1])
        assert (params.memory_cost, params.time_cost, params.parallelism) == (64, 1, 1)
    dummy = seen[0]
    assert seen[2] == seen[3] == dummy, "one dummy record made once at start-up"


def test_reprs_and_errors_hold_no_secret(hasher: PinHasher, pepper: Pepper) -> None:
    key_b64 = pepper.to_text().split()[2]
    texts = [repr(hasher), repr(pepper), repr(hasher.verify(hasher.hash(PIN), PIN))]
    assert_secret_absent(PIN, *texts)
    assert_secret_absent(key_b64, *texts)
    assert pepper.key_id in repr(pepper)


# --- Pepper loading ---------------------------------------------------------------------------


def test_pepper_text_round_trip(pepper: Pepper) -> None:
    text = pepper.to_text()
    assert text.startswith(f"{PEPPER_TAG} {pepper.key_id} ")
    assert Pepper.from_text(text, "test").key_id == pepper.key_id


def test_pepper_from_environment(pepper: Pepper) -> None:
    env = {"LIB_PEPPER": pepper.to_text()}
    hasher = PinHasher.from_config(AuthConfig(argon2=CHEAP, pepper_env="LIB_PEPPER"), env=env)
    assert hasher.key_id == pepper.key_id
    record = PinHasher(CHEAP, pepper).hash(PIN)
    assert hasher.verify(record, PIN).ok


def test_no_pepper_configured_names_the_fix() -> None:
    with pytest.raises(PepperError) as info:
        PinHasher.from_config(AuthConfig(argon2=CHEAP), env={})
    message = str(info.value)
    for needle in ("sip2d auth gen-pepper", "auth.pepper_file", "SIP2D_PEPPER", "auth.pepper_env"):
        assert needle in message
    with pytest.raises(PepperError, match="both empty"):
        PinHasher.from_config(AuthConfig(argon2=CHEAP, pepper_env=""), env={})


def test_pepper_file_problems_are_named(tmp_path: Path, pepper: Pepper) -> None:
    key_b64 = pepper.to_text().split()[2]

    def error_for(path: Path) -> str:
        with pytest.raises(PepperError) as info:
            PinHasher.from_config(AuthConfig(argon2=CHEAP, pepper_file=str(path)), env={})
        message = str(info.value)
        assert_secret_absent(key_b64, message)
        assert str(path) in message
        return message

    assert "not found" in error_for(tmp_path / "missing")
    assert "gen-pepper" in error_for(tmp_path / "missing")

    open_file = write_pepper(tmp_path / "open.pepper", pepper, mode=0o644)
    assert "chmod 600" in error_for(open_file)

    short = tmp_path / "short.pepper"
    short.write_text(f"{PEPPER_TAG} abcd1234 {base64.b64encode(b'x' * 16).decode()}\n")
    short.chmod(0o600)
    assert "too short" in error_for(short)

    garbage = tmp_path / "garbage.pepper"
    garbage.write_text("hunter2\n")
    garbage.chmod(0o600)
    assert "not a sip2d pepper" in error_for(garbage)

    edited = tmp_path / "edited.pepper"
    edited.write_text(pepper.to_text().replace(pepper.key_id, "00000000"))
    edited.chmod(0o600)
    assert "does not match" in error_for(edited)

    bad_b64 = tmp_path / "b64.pepper"
    bad_b64.write_text(f"{PEPPER_TAG} {pepper.key_id} !!!notbase64!!!\n")
    bad_b64.chmod(0o600)
    assert "base64" in error_for(bad_b64)

    assert "not a regular file" in error_for(tmp_path)


def test_unreadable_pepper_path(tmp_path: Path, pepper: Pepper) -> None:
    # (Tests run as root in CI, where a mode-000 file is still readable; a path through a
    # regular file is unreadable for everyone.)
    parent = write_pepper(tmp_path / "file.pepper", pepper)
    with pytest.raises(PepperError, match="cannot read it"):
        Pepper.from_file(parent / "child")
    binary = tmp_path / "binary.pepper"
    binary.write_bytes(b"\xff\xfe" * 40)
    binary.chmod(0o600)
    with pytest.raises(PepperError, match="not a sip2d pepper"):
        Pepper.from_file(binary)


def test_old_pepper_files_are_checked_too(tmp_path: Path, pepper: Pepper) -> None:
    current = write_pepper(tmp_path / "cur.pepper", pepper)
    loose = write_pepper(tmp_path / "old.pepper", Pepper.generate(), mode=0o604)
    with pytest.raises(PepperError, match=r"old\.pepper"):
        PinHasher.from_config(
            AuthConfig(argon2=CHEAP, pepper_file=str(current), old_pepper_files=[str(loose)]),
            env={},
        )


def test_production_default_parameters(pepper: Pepper) -> None:
    """The one test at full cost: 19 MiB, t=2, p=1 hash and verify."""
    hasher = PinHasher(Argon2Config(), pepper)
    record = hasher.hash(PIN)
    params = extract_parameters(argon2_part(record))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)
    assert hasher.verify(record, PIN) == Verification(ok=True, upgraded=None)
