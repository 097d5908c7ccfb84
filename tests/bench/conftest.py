"""A configuration file for the bench CLI: database, pepper, cheap argon2, ephemeral port."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sip2d.auth.hashing import Pepper
from sip2d.cli import main

KIOSK_PASSWORD = "bench-kiosk-secret-9271"
LOGIN = f"bench:{KIOSK_PASSWORD}"


def write_config(directory: Path, url: str) -> Path:
    pepper = directory / "bench.pepper"
    pepper.write_text(Pepper.generate().to_text(), encoding="ascii")
    pepper.chmod(0o600)
    config = directory / "sip2d.toml"
    config.write_text(
        f"""
[[listener]]
address = "127.0.0.1:0"

[database]
url = "{url}"
pool_size = 4

[auth]
pepper_file = "{pepper}"
pepper_env = ""
argon2 = {{ memory_kib = 64, time_cost = 1, parallelism = 1 }}

[server]
shutdown_grace = 2.0
""",
        encoding="utf-8",
    )
    return config


def cli(*args: str) -> tuple[int, str]:
    """Run `sip2d ARGS` in-process; returns (exit code, stdout+stderr)."""
    result = CliRunner().invoke(main, list(args), env={"SIP2D_DATABASE_URL": ""})
    return result.exit_code, result.output
