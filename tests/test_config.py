"""Configuration loading: defaults, overrides, and one-line errors for every bad value."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sip2d.config import ConfigError, ServerConfig, load_config, parse_address, resolve_time_zone


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
        ("[throttle]\nmax_failurs = 3\n", "throttle.max_failurs: unknown key"),
        ("[throttle]\nmax_failures = 'five'\n", "throttle.max_failures: expected a whole number"),
        ("[session]\ncheckout_pin = 'sometimes'\n", "session.checkout_pin: must be one of"),
        ("[server]\ntimeout_period = 1000\n", "server.timeout_period: must be 0..999"),
        ("[[listener]]\naddress = 'nowhere'\n", "expected HOST:PORT"),
        ("[[listener]]\ntls = true\n", "listener[0].tls: tls = true needs cert_file and key_file"),
        ("[database\n", "invalid TOML"),
        ("[server]\ninstitution_id = 'MA|N'\n", "server.institution_id: must not contain |"),
        ("[server]\ntime_zone = 'Mars/Olympus'\n", "server.time_zone: unknown time zone"),
        ("[server]\ntime_zone = '/etc/localtime'\n", "server.time_zone: unknown time zone"),
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


def host_zone(
    tmp_path: Path, env: dict[str, str], timezone: str | None = None, link: str | None = None
) -> ZoneInfo:
    """The host's zone as resolved from ``env`` and stand-ins for /etc/timezone and localtime."""
    timezone_file, localtime = tmp_path / "timezone", tmp_path / "localtime"
    if timezone is not None:
        timezone_file.write_text(timezone, encoding="utf-8")
    if link is not None:
        localtime.symlink_to(link)  # dangling is fine: only the link's text is read
    return resolve_time_zone(ServerConfig(), env, timezone_file=timezone_file, localtime=localtime)


@pytest.fixture
def config_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> pytest.LogCaptureFixture:
    # The daemon's logging setup stops "sip2d" records at its own handler; let caplog see them.
    monkeypatch.setattr(logging.getLogger("sip2d"), "propagate", True)
    caplog.set_level(logging.WARNING, logger="sip2d.config")
    return caplog


@pytest.mark.parametrize(
    ("env", "timezone", "link", "expected"),
    [
        ({"TZ": "Europe/Berlin"}, "America/New_York\n", None, "Europe/Berlin"),
        ({"TZ": ":Australia/Lord_Howe"}, None, None, "Australia/Lord_Howe"),
        ({"TZ": ":/usr/share/zoneinfo/Pacific/Kiritimati"}, None, None, "Pacific/Kiritimati"),
        ({}, "America/New_York\n", "/usr/share/zoneinfo/Europe/Berlin", "America/New_York"),
        ({}, None, "/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin"),
        ({}, None, "../usr/share/zoneinfo/America/New_York", "America/New_York"),
    ],
)
def test_host_zone_comes_from_tz_then_etc_timezone_then_the_localtime_link(
    tmp_path: Path, env: dict[str, str], timezone: str | None, link: str | None, expected: str
) -> None:
    assert host_zone(tmp_path, env, timezone, link) == ZoneInfo(expected)


def test_a_source_naming_no_iana_zone_is_skipped_with_a_warning(
    tmp_path: Path, config_log: pytest.LogCaptureFixture
) -> None:
    zone = host_zone(
        tmp_path, {"TZ": "CET-1CEST"}, "Not/A_Zone\n", "/usr/share/zoneinfo/Europe/Berlin"
    )
    assert zone == ZoneInfo("Europe/Berlin")
    assert "TZ names no known IANA time zone" in config_log.text
    assert "Not/A_Zone" in config_log.text


def test_no_host_zone_means_utc_with_a_warning(
    tmp_path: Path, config_log: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "localtime").write_bytes(b"TZif")  # a copied file, not a link: names nothing
    assert host_zone(tmp_path, {}) == ZoneInfo("UTC")
    assert "using UTC" in config_log.text


def test_an_explicit_zone_wins_over_the_host(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ntime_zone = "Pacific/Kiritimati"\n')
    config = load_config(path, env={"TZ": "Europe/Berlin"})
    assert config.server.time_zone == "Pacific/Kiritimati"
    assert resolve_time_zone(config.server) == ZoneInfo("Pacific/Kiritimati")


def test_an_empty_zone_is_resolved_once_at_load_and_written_into_the_config() -> None:
    config = load_config(None, env={"TZ": "America/New_York"})
    assert config.server.time_zone == "America/New_York"
    # Later lookups use the name, not whatever the host says by then.
    assert resolve_time_zone(config.server, {"TZ": "Asia/Tokyo"}) == ZoneInfo("America/New_York")


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    """#17 item 6: ranges, ISO 4217 codes and addresses are checked at load, all in one go."""
    path = write(
        tmp_path,
        "[server]\nmax_connections = -5\nshutdown_grace = -1\ncurrency = 'DOLLARS'\n"
        "[metrics]\nlisten = 'nope'\n[database]\nurl = 'postgres://u@h/db'\n"
        "[auth.argon2]\ntime_cost = 0\n[throttle]\nmax_failurs = 3\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    keys = [line.split(":")[0] for line in info.value.problems]
    assert keys == [
        "server.currency",
        "server.max_connections",
        "server.shutdown_grace",
        "database.url",
        "auth.argon2.time_cost",
        "throttle.max_failurs",
        "metrics.listen",
    ]
    text = str(info.value)
    assert text.startswith(f"{path}: 7 problems:")
    assert "ISO 4217" in text and "'DOLLARS'" in text
    assert "must be at least 1, got -5" in text
    assert "postgresql+psycopg://" in text


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgres://u@h/db", "the scheme postgres:// is not understood; write postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/db", "write postgresql+psycopg://"),
        ("mysql://u@h/db", "unsupported database 'mysql'; sip2d supports sqlite:///PATH and"),
        ("nonsense", "not a database URL"),
    ],
)
def test_database_urls_get_a_hint(tmp_path: Path, url: str, needle: str) -> None:
    """#17 item 8; also for the SIP2D_DATABASE_URL override."""
    with pytest.raises(ConfigError, match=r"database\.url") as info:
        load_config(write(tmp_path, f"[database]\nurl = {url!r}\n"), env={})
    assert needle in str(info.value)
    with pytest.raises(ConfigError, match="SIP2D_DATABASE_URL") as info:
        load_config(None, env={"SIP2D_DATABASE_URL": url})
    assert needle in str(info.value)


def test_accepted_values_pass(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "[server]\ncurrency = 'EUR'\n[metrics]\nlisten = '127.0.0.1:0'\n"),
        env={"SIP2D_DATABASE_URL": "postgresql+psycopg://u@h/db"},
    )
    assert config.server.currency == "EUR" and config.metrics.listen == "127.0.0.1:0"


def test_no_listener_at_all_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"listener: at least one \[\[listener\]\] is required"):
        load_config(write(tmp_path, "listener = []\n"), env={})
