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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sip2d.tomlschema import Problem, Range, Rule, SchemaError, load

DEFAULT_PORT = 6001
# Where Debian-like systems name the host's zone, and the symlink every systemd host has.
TIMEZONE_FILE = Path("/etc/timezone")
LOCALTIME_LINK = Path("/etc/localtime")

log = logging.getLogger("sip2d.config")


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message names the key.

    ``problems`` holds every mistake found in the file, one line each with its key path.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)


def _address_problem(text: str) -> str | None:
    try:
        parse_address(text, "")
    except ConfigError:
        return f"expected HOST:PORT (port 0..65535, [v6]:PORT for IPv6), got {text!r}"
    return None


def sip_text_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent in a SIP2 field (| ends a field, CR ends a message), or None."""
    if "|" in value or "\r" in value or "\n" in value:
        return "must not contain |, CR or LF (they cannot travel in SIP2)"
    return None


# Text that the daemon sends to kiosks in a SIP2 field.
SipText = Annotated[str, Rule(sip_text_problem, "text without |, CR or LF")]


def _optional_address_problem(text: str) -> str | None:
    return _address_problem(text) if text else None


def _currency_problem(code: str) -> str | None:
    import pycountry  # loaded only when a config is checked: its tables are large

    if len(code) == 3 and code.isupper() and pycountry.currencies.get(alpha_3=code) is not None:
        return None
    return f"expected an ISO 4217 currency code such as USD, EUR or GBP, got {code!r}"


SUPPORTED_DATABASES = "sqlite:///PATH and postgresql+psycopg://USER:PASSWORD@HOST/DB"


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot name a sip2d database (scheme, driver, dialect), or None."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme = url.partition("://")[0]
    if scheme in ("postgres", "postgres+psycopg"):
        return f"the scheme {scheme}:// is not understood; write postgresql+psycopg://..."
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"not a database URL; sip2d supports {SUPPORTED_DATABASES}"
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite" and driver == "pysqlite":
        return None
    if backend == "postgresql" and driver == "psycopg":
        return None
    if backend == "postgresql":
        return f"{parsed.drivername}:// selects a driver sip2d does not use; write postgresql+psycopg://..."
    return f"unsupported database {parsed.drivername!r}; sip2d supports {SUPPORTED_DATABASES}"


DatabaseUrl = Annotated[
    str, Rule(database_url_problem, "sqlite:///PATH or postgresql+psycopg://...")
]
Listeners = Annotated[
    list["ListenerConfig"],
    Rule(lambda found: None if found else "at least one [[listener]] is required", "1 or more"),
]
# A listening address, checked when the file is loaded.
Address = Annotated[str, Rule(_address_problem, "HOST:PORT; [v6]:PORT for IPv6")]


@dataclasses.dataclass(frozen=True)
class ListenerConfig:
    """One listening socket."""

    address: Address = f"127.0.0.1:{DEFAULT_PORT}"
    tls: bool = False
    cert_file: str = ""
    key_file: str = ""
    # Answer 99 SC Status before 93 Login (authentication appliances and many kiosks do this).
    allow_status_before_login: bool = True
    # Kiosks configured without 93: bind every connection on this listener to one account.
    login_account: SipText = ""
    # SO_REUSEPORT: several daemons (on one database) listen on this same address and the
    # kernel deals new connections between them (Linux, BSDs; `sip2d serve --reuse-port`).
    reuse_port: bool = False

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.tls and not (self.cert_file and self.key_file):
            yield "tls", "tls = true needs cert_file and key_file"


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Connection handling and the values the ACS announces in 98."""

    institution_id: SipText = "MAIN"
    library_name: SipText = "sip2d Library"
    # ISO 4217 code sent in BH and used for fees and payments.
    currency: Annotated[str, Rule(_currency_problem, "an ISO 4217 code such as USD or EUR")] = "USD"
    max_connections: Annotated[int, Range(1)] = 20000
    max_connections_per_address: Annotated[int, Range(1)] = 2000
    login_timeout: Annotated[float, Range(0.1)] = 60.0
    idle_timeout: Annotated[float, Range(0.1)] = 600.0
    frame_timeout: Annotated[float, Range(0.1)] = 30.0
    # Seconds a response may take to be written: a client that stops reading is dropped.
    send_timeout: Annotated[float, Range(0.1)] = 30.0
    max_frame_bytes: Annotated[int, Range(64)] = 16 * 1024
    max_consecutive_errors: Annotated[int, Range(1)] = 3
    max_login_attempts: Annotated[int, Range(1)] = 3
    shutdown_grace: Annotated[float, Range(0)] = 10.0
    # Seconds between database health checks (98 on-line status, /healthz, recovery).
    health_check_interval: Annotated[float, Range(0.1)] = 5.0
    # Seconds between two "database still unavailable" lines during one outage.
    outage_log_interval: Annotated[float, Range(0.1)] = 30.0
    # 98 fixed fields: tenths of a second / count; 999 means unknown.
    timeout_period: Annotated[int, Range(0, 999)] = 100
    retries_allowed: Annotated[int, Range(0, 999)] = 3
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
    # Seconds within which a transaction sent again (same account, patron, item or payment,
    # transaction date) is a retry answered as the first time; 0 turns recognition off.
    retry_window: float = 120.0


@dataclasses.dataclass(frozen=True)
class DatabaseConfig:
    """Where circulation data lives. SQLite file path or PostgreSQL URL."""

    url: Annotated[
        str, Rule(database_url_problem, "sqlite:///PATH or postgresql+psycopg://...")
    ] = "sqlite:///sip2d.db"
    pool_size: Annotated[int, Range(1)] = 8
    # SQLite durability of an acknowledged transaction: FULL survives power loss.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    sqlite_busy_timeout_ms: Annotated[int, Range(0)] = 5000
    # Debugging: run every statement through plain SQLAlchemy execute (echo and events see
    # them), slower. SIP2D_PLAIN_STATEMENTS=1 does the same for a whole process.
    plain_statements: bool = False


@dataclasses.dataclass(frozen=True)
class Argon2Config:
    """argon2id cost. The defaults follow the OWASP minimum (19 MiB, t=2, p=1)."""

    memory_kib: Annotated[int, Range(8)] = 19 * 1024
    time_cost: Annotated[int, Range(1)] = 2
    parallelism: Annotated[int, Range(1, 255)] = 1

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.memory_kib < 8 * self.parallelism:
            yield "memory_kib", f"must be at least 8 * parallelism ({8 * self.parallelism})"


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
    hash_threads: Annotated[int, Range(0)] = 0


@dataclasses.dataclass(frozen=True)
class PinPolicyConfig:
    """Which PINs patrons may choose. Defaults mirror common library rules."""

    min_length: Annotated[int, Range(1)] = 4
    max_length: Annotated[int, Range(1)] = 4
    digits_only: bool = True
    reject_repeated_digit: bool = True
    reject_repeated_pair: bool = True
    reject_sequences: bool = False
    use_builtin_denylist: bool = True
    denylist_file: str = ""

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.min_length > self.max_length:
            yield "min_length", f"must not exceed max_length ({self.max_length})"


@dataclasses.dataclass(frozen=True)
class ThrottleConfig:
    """Online guessing limits. State lives in the database so daemons share it."""

    max_failures: Annotated[int, Range(1)] = 5
    lockout_minutes: Annotated[float, Range(0)] = 15.0
    # A spray: many failures across different patrons from one kiosk account or address.
    spray_window_minutes: Annotated[float, Range(0)] = 10.0
    spray_slowdown_after: Annotated[int, Range(1)] = 10
    spray_slowdown_seconds: Annotated[float, Range(0)] = 2.0
    spray_block_after: Annotated[int, Range(1)] = 30
    spray_block_minutes: Annotated[float, Range(0)] = 30.0
    # Failed 93 logins per client address and login name, and per address (a ceiling).
    login_failures_per_login: Annotated[int, Range(1)] = 10
    login_failures_per_address: Annotated[int, Range(1)] = 100
    login_block_minutes: Annotated[float, Range(0)] = 15.0


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """Per-patron behaviour within one kiosk connection."""

    # When 11 Checkout needs a PIN: always, once per patron session, or never.
    checkout_pin: Literal["always", "session", "never"] = "session"
    # Seconds a verified PIN stays valid for repeat presentation on the same connection.
    pin_cache_seconds: Annotated[float, Range(0)] = 300.0
    # Empty AD in 23/63: "omit" leaves CQ out, "reject" sends CQN.
    empty_pin: Literal["omit", "reject"] = "omit"


@dataclasses.dataclass(frozen=True)
class LoggingConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "text", "json"] = "auto"


@dataclasses.dataclass(frozen=True)
class MetricsConfig:
    # Prometheus metrics and /healthz; empty disables the HTTP endpoint.
    listen: Annotated[str, Rule(_optional_address_problem, "HOST:PORT, or empty")] = ""


@dataclasses.dataclass(frozen=True)
class WebConfig:
    """The patron self-service PIN page (issue #16); see docs/pin-page.md."""

    # HOST:PORT; empty = off (``sip2d serve`` then runs no page; ``sip2d web`` needs it).
    listen: Annotated[str, Rule(_optional_address_problem, "HOST:PORT, or empty")] = ""
    # The public address patrons use (behind the TLS proxy): links are built from it, never
    # from a request's Host header. http:// only with allow_insecure_base_url.
    base_url: str = ""
    allow_insecure_base_url: bool = False
    # Proxies in front of the page whose X-Forwarded-For is trusted (0 = none): the client
    # address feeds the per-source limits, so it must be the patron's, not the proxy's.
    proxy_hops: Annotated[int, Range(0, 10)] = 0
    link_minutes: Annotated[int, Range(1, 7 * 24 * 60)] = 60
    setup_code_hours: Annotated[int, Range(1, 24 * 30)] = 24
    library_name: str = "sip2d Library"
    # Desk hours, phone number: shown on every page.
    help_text: str = ""
    # One AF text for a wrong, locked or missing PIN at a kiosk (empty = the usual messages),
    # e.g. "PIN not accepted. New or forgotten PIN: library.example/pin or ask staff".
    kiosk_hint: SipText = ""
    # argon2 threads for the page's PIN checks, apart from the kiosks' (0 = one).
    hash_threads: Annotated[int, Range(0)] = 1
    # Reset-link requests per client address in 15 minutes, and mails per patron.
    forgot_per_address: Annotated[int, Range(1)] = 20
    mails_per_patron_per_day: Annotated[int, Range(1)] = 5
    mail_interval_minutes: Annotated[float, Range(0)] = 5.0
    # Wrong set-up codes per card and per address in 15 minutes before the form refuses.
    code_failures_per_card: Annotated[int, Range(1)] = 5
    code_failures_per_address: Annotated[int, Range(1)] = 20

    def problems(self) -> Iterator[tuple[str, str]]:
        """The page needs a base URL to build links from, and https unless explicitly waived."""
        if not self.base_url:
            if self.listen:
                yield "base_url", "required when web.listen is set (links are built from it)"
            return
        scheme, sep, rest = self.base_url.partition("://")
        if not sep or scheme not in ("https", "http") or not rest or rest.startswith("/"):
            yield "base_url", f"expected https://HOST[/PATH], got {self.base_url!r}"
        elif scheme == "http" and not self.allow_insecure_base_url:
            yield (
                "base_url",
                "http:// would send reset links in clear; use https:// "
                "(or set web.allow_insecure_base_url = true for a local demo)",
            )


def validate_web(web: WebConfig) -> None:
    """Check a [web] section changed after loading (``sip2d web --listen``) by the same rules."""
    lines = [
        f"web.listen: {problem}"
        for problem in [_optional_address_problem(web.listen)]
        if problem is not None
    ]
    lines += [f"web.{key}: {message}" for key, message in web.problems()]
    if lines:
        raise _config_error("web", lines)


@dataclasses.dataclass(frozen=True)
class MailConfig:
    """How the page's mails leave: SMTP, or ``.eml`` files in a directory (demos, tests)."""

    transport: Literal["smtp", "directory"] = "directory"
    directory: str = "mail"
    from_address: str = "library@localhost"
    smtp_host: str = "localhost"
    smtp_port: Annotated[int, Range(1, 65535)] = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str = ""
    # The password: a file, or the environment variable SIP2D_SMTP_PASSWORD.
    smtp_password_file: str = ""
    # Extra CA certificates (PEM) to trust for a relay with a private certificate.
    smtp_ca_file: str = ""
    smtp_timeout: Annotated[float, Range(0.1)] = 30.0
    # Every mail the store sends in one hour, whatever the patron (a global brake).
    max_per_hour: Annotated[int, Range(1)] = 500
    max_attempts: Annotated[int, Range(1)] = 8


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole configuration. Sections map one-to-one onto TOML tables."""

    listeners: Listeners = dataclasses.field(default_factory=lambda: [ListenerConfig()])
    server: ServerConfig = dataclasses.field(default_factory=ServerConfig)
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    auth: AuthConfig = dataclasses.field(default_factory=AuthConfig)
    pin_policy: PinPolicyConfig = dataclasses.field(default_factory=PinPolicyConfig)
    throttle: ThrottleConfig = dataclasses.field(default_factory=ThrottleConfig)
    session: SessionConfig = dataclasses.field(default_factory=SessionConfig)
    logging: LoggingConfig = dataclasses.field(default_factory=LoggingConfig)
    metrics: MetricsConfig = dataclasses.field(default_factory=MetricsConfig)
    web: WebConfig = dataclasses.field(default_factory=WebConfig)
    mail: MailConfig = dataclasses.field(default_factory=MailConfig)


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
    where = "config"
    if path is not None:
        file = Path(path)
        where = str(file)
        try:
            with file.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {file}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: invalid TOML: {exc}") from None
        base = file.resolve().parent
    if "listener" in raw and "listeners" not in raw:
        raw["listeners"] = raw.pop("listener")
    problems: list[Problem] = []
    try:
        config: Config = load(Config, raw)
    except SchemaError as exc:
        problems.extend(exc.problems)
        config = Config()
    override = env.get("SIP2D_DATABASE_URL")
    if override:
        problem = database_url_problem(override)
        if problem is not None:
            problems.append(Problem("SIP2D_DATABASE_URL", problem))
    url = resolve_sqlite_path(override or config.database.url, base)
    config = dataclasses.replace(config, database=dataclasses.replace(config.database, url=url))
    config = _resolve_files(config, base)
    try:
        zone = resolve_time_zone(config.server, env)
    except ConfigError as exc:
        problems.append(Problem("", str(exc)))
    else:
        config = dataclasses.replace(
            config, server=dataclasses.replace(config.server, time_zone=zone.key)
        )
    if problems:
        # The TOML table is [[listener]]; the field holding them is `listeners`.
        lines = [
            str(dataclasses.replace(p, key="listener" + p.key.removeprefix("listeners")))
            if p.key.startswith("listeners")
            else str(p)
            for p in problems
        ]
        raise _config_error(where, lines)
    return config


def _config_error(where: str, lines: list[str]) -> ConfigError:
    """One line for one problem; a count and one indented line per problem otherwise."""
    if len(lines) == 1:
        return ConfigError(f"{where}: {lines[0]}", tuple(lines))
    listing = "".join(f"\n  {line}" for line in lines)
    return ConfigError(f"{where}: {len(lines)} problems:{listing}", tuple(lines))


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
    mail = dataclasses.replace(
        config.mail,
        directory=resolve(config.mail.directory),
        smtp_password_file=resolve(config.mail.smtp_password_file),
        smtp_ca_file=resolve(config.mail.smtp_ca_file),
    )
    return dataclasses.replace(config, auth=auth, pin_policy=policy, listeners=listeners, mail=mail)


def resolve_sqlite_path(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file`` URL absolute against ``base``."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and not rest.startswith(":memory:"):
            return prefix + str((base / rest).resolve())
    return url


def parse_address(text: str, where: str = "address") -> tuple[str, int]:
    """Split ``HOST:PORT`` or ``[v6]:PORT`` into host and port."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{where}: expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)
