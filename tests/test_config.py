"""Configuration loading: defaults, overrides, and one-line errors for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sip2d.config import ConfigError, load_config, parse_address


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sip2d.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_need_no_file() -> None:
    config = load_config(None, env={})
    assert config.listeners[0].address == "127.0.0.1:6001"
    assert config.auth.argon2.memory_kib == 19 * 1024
    assert config.throttle.max_failures == 5


def test_relative_sqlite_path_is_resolved_against_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///data/lib.db"\n')
    config = load_config(path, env={})
    assert config.database.url == f"sqlite:///{tmp_path.resolve()}/data/lib.db"


def test_environment_overrides_database_url(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///a.db"\n')
    config = load_config(path, env={"SIP2D_DATABASE_URL": "postgresql+psycopg://x@h/db"})
    assert config.database.url == "postgresql+psycopg://x@h/db"


def test_listener_tables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[listener]]\naddress = "0.0.0.0:6001"\n[[listener]]\naddress = "[::1]:6002"\n'
        'login_account = "kiosk"\n',
    )
    config = load_config(path, env={})
    assert [listener.address for listener in config.listeners] == ["0.0.0.0:6001", "[::1]:6002"]
    assert config.listeners[1].login_account == "kiosk"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[throttle]\nmax_failurs = 3\n", "throttle: unknown key(s): max_failurs"),
        ("[throttle]\nmax_failures = 'five'\n", "throttle.max_failures: expected a whole number"),
        ("[session]\ncheckout_pin = 'sometimes'\n", "session.checkout_pin: must be one of"),
        ("[server]\ntimeout_period = 1000\n", "server.timeout_period: must be 0..999"),
        ("[[listener]]\naddress = 'nowhere'\n", "expected HOST:PORT"),
        ("[[listener]]\ntls = true\n", "tls = true needs cert_file and key_file"),
        ("[database\n", "invalid TOML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, body), env={})
    assert needle in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml", env={})


def test_parse_address_handles_ipv6() -> None:
    assert parse_address("[::1]:6001") == ("::1", 6001)
    assert parse_address("0.0.0.0:0") == ("0.0.0.0", 0)


def test_example_config_is_valid_and_shows_every_default() -> None:
    import dataclasses
    import tomllib

    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    config = load_config(example, env={})
    defaults = load_config(None, env={})
    assert config.server == defaults.server
    assert config.throttle == defaults.throttle
    assert config.session == defaults.session
    assert config.auth.argon2 == defaults.auth.argon2
    # Every section key of the dataclasses appears in the file, so nothing is undocumented.
    raw = tomllib.loads(example.read_text(encoding="utf-8"))
    for section in ("server", "database", "auth", "pin_policy", "throttle", "session", "logging"):
        fields = {f.name for f in dataclasses.fields(getattr(defaults, section))}
        assert fields <= set(raw[section]), section
    listener_fields = {f.name for f in dataclasses.fields(defaults.listeners[0])}
    assert listener_fields <= set(raw["listener"][0])


def test_relative_files_resolve_against_the_config_directory(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\npepper_file = "keys/pepper"\n')
    assert load_config(path, env={}).auth.pepper_file == str(tmp_path.resolve() / "keys/pepper")
