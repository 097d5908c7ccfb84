"""Daemon and CLI configuration: one TOML file, typed sections, strict loading.

Every setting has a default so an empty file (or none at all) is a working configuration.
Loading is strict on purpose: an unknown key or a value of the wrong type is an error that
names the key, because a typo in a security setting (``max_failurs = 3``) must not be
silently ignored. The loader is generic over the dataclasses below, so a new setting is one
annotated field with a default and nothing else.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PORT = 6001
# Where Debian-like systems name the host's zone, and the symlink every systemd host has.
TIMEZONE_FILE = Path("/etc/timezone")
LOCALTIME_LINK = Path("/etc/localtime")

log = logging.getLogger("sip2d.config")


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message names the key."""


@dataclasses.dataclass(frozen=True)
class ListenerConfig:
    """One listening socket."""

    address: str = f"127.0.0.1:{DEFAULT_PORT}"
    tls: bool = False
    cert_file: str = ""
    key_file: str = ""
    # Answer 99 SC Status before 93 Login (authentication appliances and many kiosks do this).
    allow_status_before_login: bool = True
    # Kiosks configured without 93: bind every connection on this listener to one account.
    login_account: str = ""


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Connection handling and the values the ACS announces in 98."""

    institution_id: str = "MAIN"
    library_name: str = "sip2d Library"
    # ISO 4217 code sent in BH and used for fees and payments.
    currency: str = "USD"
    max_connections: int = 20000
    max_connections_per_address: int = 2000
    login_timeout: float = 60.0
    idle_timeout: float = 600.0
    frame_timeout: float = 30.0
    max_frame_bytes: int = 16 * 1024
    max_consecutive_errors: int = 3
    max_login_attempts: int = 3
    shutdown_grace: float = 10.0
    # Seconds between database health checks (98 on-line status, /healthz, recovery).
    health_check_interval: float = 5.0
    # 98 fixed fields: tenths of a second / count; 999 means unknown.
    timeout_period: int = 100
    retries_allowed: int = 3
    # "Y" flags in 98 and BX are derived from what is implemented and permitted; these switch
    # whole message families off for a site that does not want them from kiosks.
    enable_fee_paid: bool = True
    enable_holds: bool = True
    enable_block_patron: bool = True
    enable_patron_enable: bool = True
    enable_item_status_update: bool = True
    # The library's zone for local SIP2 dates: an IANA name; empty = the host's zone, which
    # load_config resolves and writes here, so a loaded config always names its zone.
    time_zone: str = ""
    # Output date form: local time with four spaces (spec default) or "   Z" UTC.
    utc_dates: bool = False


@dataclasses.dataclass(frozen=True)
class DatabaseConfig:
    """Where circulation data lives. SQLite file path or PostgreSQL URL."""

    url: str = "sqlite:///sip2d.db"
    pool_size: int = 8
    # SQLite durability of an acknowledged transaction: FULL survives power loss.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    sqlite_busy_timeout_ms: int = 5000
    # Debugging: run every statement through plain SQLAlchemy execute (echo and events see
    # them), slower. SIP2D_PLAIN_STATEMENTS=1 does the same for a whole process.
    plain_statements: bool = False


@dataclasses.dataclass(frozen=True)
class Argon2Config:
    """argon2id cost. The defaults follow the OWASP minimum (19 MiB, t=2, p=1)."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1


@dataclasses.dataclass(frozen=True)
class AuthConfig:
    """PIN and kiosk password hashing."""

    argon2: Argon2Config = dataclasses.field(default_factory=Argon2Config)
    # The pepper is a secret kept outside the database: a file (written by
    # `sip2d auth gen-pepper`) or an environment variable holding the same text.
    pepper_file: str = ""
    pepper_env: str = "SIP2D_PEPPER"
    # Retired pepper files still accepted for verification while hashes are upgraded.
    old_pepper_files: list[str] = dataclasses.field(default_factory=list)
    # Threads that may run argon2 at once; 0 = number of CPU cores.
    hash_threads: int = 0


@dataclasses.dataclass(frozen=True)
class PinPolicyConfig:
    """Which PINs patrons may choose. Defaults mirror common library rules."""

    min_length: int = 4
    max_length: int = 4
    digits_only: bool = True
    reject_repeated_digit: bool = True
    reject_repeated_pair: bool = True
    reject_sequences: bool = False
    use_builtin_denylist: bool = True
    denylist_file: str = ""


@dataclasses.dataclass(frozen=True)
class ThrottleConfig:
    """Online guessing limits. State lives in the database so daemons share it."""

    max_failures: int = 5
    lockout_minutes: float = 15.0
    # A spray: many failures across different patrons from one kiosk account or address.
    spray_window_minutes: float = 10.0
    spray_slowdown_after: int = 10
    spray_slowdown_seconds: float = 2.0
    spray_block_after: int = 30
    spray_block_minutes: float = 30.0
    # Failed 93 logins per client address and login name, and per address (a ceiling).
    login_failures_per_login: int = 10
    login_failures_per_address: int = 100
    login_block_minutes: float = 15.0


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """Per-patron behaviour within one kiosk connection."""

    # When 11 Checkout needs a PIN: always, once per patron session, or never.
    checkout_pin: Literal["always", "session", "never"] = "session"
    # Seconds a verified PIN stays valid for repeat presentation on the same connection.
    pin_cache_seconds: float = 300.0
    # Empty AD in 23/63: "omit" leaves CQ out, "reject" sends CQN.
    empty_pin: Literal["omit", "reject"] = "omit"


@dataclasses.dataclass(frozen=True)
class LoggingConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "text", "json"] = "auto"


@dataclasses.dataclass(frozen=True)
class MetricsConfig:
    # Prometheus metrics and /healthz; empty disables the HTTP endpoint.
    listen: str = ""


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole configuration. Sections map one-to-one onto TOML tables."""

    listeners: list[ListenerConfig] = dataclasses.field(default_factory=lambda: [ListenerConfig()])
    server: ServerConfig = dataclasses.field(default_factory=ServerConfig)
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    auth: AuthConfig = dataclasses.field(default_factory=AuthConfig)
    pin_policy: PinPolicyConfig = dataclasses.field(default_factory=PinPolicyConfig)
    throttle: ThrottleConfig = dataclasses.field(default_factory=ThrottleConfig)
    session: SessionConfig = dataclasses.field(default_factory=SessionConfig)
    logging: LoggingConfig = dataclasses.field(default_factory=LoggingConfig)
    metrics: MetricsConfig = dataclasses.field(default_factory=MetricsConfig)


def load_config(
    path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Config:
    """Read ``path`` (or use defaults when None) and apply environment overrides.

    ``SIP2D_DATABASE_URL`` overrides ``[database] url`` so containers and CI can point the
    daemon elsewhere without editing the file. A relative SQLite path is resolved against the
    config file's directory, so the daemon behaves the same whatever its working directory.
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        file = Path(path)
        try:
            with file.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: invalid TOML: {exc}") from None
        base = file.resolve().parent
    if "listener" in raw and "listeners" not in raw:
        raw["listeners"] = raw.pop("listener")
    config: Config = _build(Config, raw, "")
    url = env.get("SIP2D_DATABASE_URL") or config.database.url
    url = resolve_sqlite_path(url, base)
    config = dataclasses.replace(config, database=dataclasses.replace(config.database, url=url))
    config = _resolve_files(config, base)
    zone = resolve_time_zone(config.server, env)
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, time_zone=zone.key)
    )
    validate(config)
    return config


def resolve_time_zone(
    server: ServerConfig,
    env: Mapping[str, str] | None = None,
    *,
    timezone_file: Path = TIMEZONE_FILE,
    localtime: Path = LOCALTIME_LINK,
) -> ZoneInfo:
    """The zone of ``[server] time_zone``, or the host's zone when it is empty.

    SIP2 local dates are converted with this zone only, never with the process's local time,
    so what the daemon sends is decided by the configuration and visible in it. The host's
    zone is looked up here, once per load, from (first that names a known IANA zone): the
    ``TZ`` variable of ``env``, ``timezone_file``, the target of the ``localtime`` symlink
    (``.../zoneinfo/Area/City``); else UTC, with a warning. The paths are parameters so tests
    can point them elsewhere.
    """
    name = server.time_zone or _host_zone_name(
        os.environ if env is None else env, timezone_file, localtime
    )
    zone = _known_zone(name)
    if zone is None:
        raise ConfigError(
            f"server.time_zone: unknown time zone {name!r} "
            "(expected an IANA name from the time zone database, such as 'Europe/Berlin')"
        )
    return zone


def _host_zone_name(env: Mapping[str, str], timezone_file: Path, localtime: Path) -> str:
    sources = (
        ("TZ", env.get("TZ", "")),
        (str(timezone_file), _first_line(timezone_file)),
        (str(localtime), _link_target(localtime)),
    )
    for source, text in sources:
        # glibc accepts ":Area/City" and a path into the zoneinfo tree; both name a key.
        name = text.strip().removeprefix(":").rpartition("zoneinfo/")[2]
        if not name:
            continue
        if _known_zone(name) is not None:
            return name
        log.warning("%s names no known IANA time zone (%r); ignored", source, text)
    log.warning(
        "server.time_zone is empty and the host's time zone could not be determined "
        "(TZ, %s, %s); using UTC for SIP2 local dates",
        timezone_file,
        localtime,
    )
    return "UTC"


def _first_line(path: Path) -> str:
    """The first line of ``path``, or "" when it cannot be read (then it says nothing)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.readline(1024)  # a zone name is short; never read a whole odd file
    except OSError:
        return ""


def _link_target(path: Path) -> str:
    """Where the symlink ``path`` points, or "" when it is absent or a plain file."""
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _known_zone(name: str) -> ZoneInfo | None:
    """``ZoneInfo(name)``, or None when the time zone database has no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _resolve_files(config: Config, base: Path) -> Config:
    """Relative file settings (pepper, denylist, certificates) are relative to the config file."""

    def resolve(path: str) -> str:
        return str((base / path).resolve()) if path and not Path(path).is_absolute() else path

    auth = dataclasses.replace(
        config.auth,
        pepper_file=resolve(config.auth.pepper_file),
        old_pepper_files=[resolve(p) for p in config.auth.old_pepper_files],
    )
    policy = dataclasses.replace(
        config.pin_policy, denylist_file=resolve(config.pin_policy.denylist_file)
    )
    listeners = [
        dataclasses.replace(lst, cert_file=resolve(lst.cert_file), key_file=resolve(lst.key_file))
        for lst in config.listeners
    ]
    return dataclasses.replace(config, auth=auth, pin_policy=policy, listeners=listeners)


def resolve_sqlite_path(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file`` URL absolute against ``base``."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and not rest.startswith(":memory:"):
            return prefix + str((base / rest).resolve())
    return url


def validate(config: Config) -> None:
    """Cross-field checks that the type-driven loader cannot express."""
    if not config.listeners:
        raise ConfigError("listeners: at least one listener is required")
    for index, listener in enumerate(config.listeners):
        where = f"listener[{index}]"
        parse_address(listener.address, where + ".address")
        if listener.tls and not (listener.cert_file and listener.key_file):
            raise ConfigError(f"{where}: tls = true needs cert_file and key_file")
    policy = config.pin_policy
    if not 1 <= policy.min_length <= policy.max_length:
        raise ConfigError("pin_policy: need 1 <= min_length <= max_length")
    for name in ("timeout_period", "retries_allowed"):
        value = getattr(config.server, name)
        if not 0 <= value <= 999:
            raise ConfigError(f"server.{name}: must be 0..999, got {value}")
    if config.server.max_frame_bytes < 64:
        raise ConfigError("server.max_frame_bytes: must be at least 64")
    a2 = config.auth.argon2
    if a2.memory_kib < 8 * a2.parallelism or a2.time_cost < 1 or a2.parallelism < 1:
        raise ConfigError("auth.argon2: need time_cost >= 1, parallelism >= 1, memory_kib >= 8*p")


def parse_address(text: str, where: str = "address") -> tuple[str, int]:
    """Split ``HOST:PORT`` or ``[v6]:PORT`` into host and port."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{where}: expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def _build(cls: type[Any], raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s): {', '.join(unknown)}")
    values = {
        key: _convert(hints[key], value, f"{where}.{key}".lstrip(".")) for key, value in raw.items()
    }
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type[Any], hint), value, where)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list")
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            raise ConfigError(f"{where}: must be one of {choices}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover
