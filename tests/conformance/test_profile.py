"""Profiles: the shipped ones are valid and match the demo data; mistakes are one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.profile import ProfileError, Secret, load_profile
from sip2d.storage import demo

PROFILES = Path(__file__).resolve().parents[2] / "conformance" / "profiles"


def test_example_profile_loads_and_documents_every_key() -> None:
    profile = load_profile(PROFILES / "example.toml", env={})
    assert profile.login is not None and profile.login.user == "kiosk"
    text = (PROFILES / "example.toml").read_text(encoding="utf-8")
    # Every key the loader knows appears in the example, with a comment somewhere above it.
    for key in (
        "name", "encoding", "error_detection", "terminator", "timeout", "institution_id",
        "terminal_password", "terminal_password_env", "terminal_password_file",
        "status_before_login", "user", "password", "password_env", "password_file", "location",
        "barcode", "pin", "pin_env", "pin_file", "patron", "item", "allow", "attempts",
        "threshold", "login_first", "end_session",
    ):  # fmt: skip
        assert re.search(rf"^#? ?{key} = ", text, re.MULTILINE), key
    for table in ("connection", "login", "patron", "second_patron", "item", "invalid",
                  "changes", "lockout", "lockout_patron", "kiosk"):  # fmt: skip
        assert f"[{table}]" in text


def test_demo_profile_matches_the_demo_library() -> None:
    profile = load_profile(PROFILES / "sip2d-demo.toml", env={})
    patrons = {p.barcode: p for p in demo.PATRONS}
    items = {i.barcode: i for i in demo.ITEMS}
    assert profile.login is not None
    assert profile.login.user == demo.KIOSK_LOGIN
    assert profile.login.password.reveal() == demo.KIOSK_PASSWORD
    assert profile.institution_id == demo.INSTITUTION_ID
    for patron in (profile.patron, profile.second_patron, profile.lockout_patron):
        assert patron is not None and patron.pin is not None
        seeded = patrons[patron.barcode]
        assert patron.pin.reveal() == seeded.pin
        assert not seeded.blocked and seeded.expires_in_days > 0 and seeded.profile == "adult"
    assert profile.item is not None
    item = items[profile.item]
    assert item.circulation_status == "03" and item.checkout_fee_cents == 0
    assert profile.invalid_patron not in patrons and profile.invalid_item not in items
    # The paging check needs the profile's patron to have something on loan in the demo.
    assert "on loan" in patrons[profile.patron.barcode].note  # type: ignore[union-attr]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_secrets_from_the_environment_and_files(tmp_path: Path) -> None:
    (tmp_path / "pin.txt").write_text("7777\nignored second line\n", encoding="utf-8")
    path = write(tmp_path, """
[login]
user = "k"
password_env = "KIOSK_PW"
[patron]
barcode = 123
pin_file = "pin.txt"
""")  # fmt: skip
    profile = load_profile(path, env={"KIOSK_PW": "from-env"})
    assert profile.login is not None and profile.login.password.reveal() == "from-env"
    assert profile.patron is not None and profile.patron.barcode == "123"
    assert profile.patron.pin is not None and profile.patron.pin.reveal() == "7777"
    assert set(profile.secrets()) == {"from-env", "7777"}
    assert "from-env" not in repr(profile) and "7777" not in repr(profile)
    assert repr(Secret("x")) == "Secret(***)" and str(Secret("x")) == "***"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alow = true\n", "alow: unknown key"),
        ('[connection]\nencoding = "ebcdic"\n', "connection.encoding: must be one of"),
        ('[connection]\ntimeout = "5"\n', "connection.timeout: expected a number"),
        ("[connection]\ntimeout = 0\n", "connection.timeout: must be at least 0.05"),
        ("[connection]\nstatus_before_login = 1\n", "status_before_login: expected true or false"),
        ('[login]\nuser = "k"\n', "login.password: missing"),
        ('[login]\nuser = "k"\npassword = "a"\npassword_env = "B"\n', "give only one of"),
        ('[login]\nuser = "k"\npassword_env = "NOPE"\n', "environment variable NOPE is not set"),
        ('[login]\nuser = "k"\npassword_file = "missing"\n', "password_file: cannot read"),
        ('[patron]\npin = "1"\n', "patron.barcode: missing (required)"),
        ('[patron]\nbarcode = "a|b"\n', "must not contain |"),
        (
            '[patron]\nbarcode = "1"\n[invalid]\npatron = "1"\n',
            "invalid.patron: must differ from the real",
        ),
        ('[item]\nbarcode = "1"\n[invalid]\nitem = "1"\n', "must differ from [item]"),
        ("[lockout]\nattempts = 2.5\n", "lockout.attempts: expected a whole number"),
        ("login = 3\n", "login: expected a table"),
        ("[login\n", "not valid TOML"),
    ],
)
def test_mistakes_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(write(tmp_path, text), env={})
    assert message in str(caught.value)
    assert str(tmp_path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_secret_is_never_echoed_in_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[login]\nuser = "k"\npassword_env = "PW"\n')
    with pytest.raises(ProfileError) as caught:
        load_profile(path, env={"PW": "s3cret|x"})
    assert "s3cret" not in str(caught.value)


def test_every_mistake_of_a_profile_is_reported_at_once(tmp_path: Path) -> None:
    """#17 item 6: the profile is read by the config loader and lists all its problems."""
    path = write(
        tmp_path, '[connection]\ntimeout = 0\nencoding = "ebcdic"\n[lockout]\nattemps = 3\n'
    )
    with pytest.raises(ProfileError) as caught:
        load_profile(path, env={})
    text = str(caught.value)
    for needle in ("connection.encoding: must be one of", "connection.timeout: must be at least",
                   "lockout.attemps: unknown key"):  # fmt: skip
        assert needle in text
    assert "\n" not in text
