"""Fixtures for CLI tests: a config file, a pepper and a real database on each engine.

Commands run in-process through click's CliRunner against the configured database, with the
environment cleared of SIP2D_* variables so a developer's shell cannot leak in. The config
uses cheap argon2 parameters and allows PINs of up to 8 digits, so tests can use PINs long
enough that a leak scan cannot match them by chance.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from sip2d.auth.hashing import Pepper, PinHasher
from sip2d.cli import main
from sip2d.config import Argon2Config, DatabaseConfig
from sip2d.storage.engine import make_engine
from tests.templates import migrate

CHEAP = Argon2Config(memory_kib=64, time_cost=1, parallelism=1)
CLEAN_ENV = {"SIP2D_DATABASE_URL": None, "SIP2D_CONFIG": None, "SIP2D_PEPPER": None}


@dataclasses.dataclass
class Cli:
    config: Path
    url: str
    pepper: Pepper
    runner: CliRunner

    def run(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(
            main, ["--config", str(self.config), *args], input=input, env=CLEAN_ENV
        )

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, result.output
        return result

    def fails(self, *args: str, input: str | None = None) -> str:
        """Run a command that must fail as a user mistake: exit 1, one line, no traceback."""
        result = self.run(*args, input=input)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith("Error: ")
        return errors[0]

    def hasher(self) -> PinHasher:
        return PinHasher(CHEAP, self.pepper)

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.url.removeprefix("sqlite:///")) if self.url.startswith("sqlite") else None


def write_config(tmp_path: Path, url: str, pepper: Pepper) -> Path:
    pepper_file = tmp_path / "pepper"
    pepper_file.write_text(pepper.to_text(), encoding="ascii")
    os.chmod(pepper_file, 0o600)
    config = tmp_path / "sip2d.toml"
    config.write_text(
        f"[database]\nurl = {url!r}\npool_size = 2\n\n"
        f"[auth]\npepper_file = {str(pepper_file)!r}\n\n"
        "[auth.argon2]\nmemory_kib = 64\ntime_cost = 1\n\n"
        "[pin_policy]\nmax_length = 8\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> Cli:
    """A CLI on an empty (not yet migrated) database."""
    pepper = Pepper.generate()
    return Cli(write_config(tmp_path, database_url, pepper), database_url, pepper, CliRunner())


@pytest.fixture
def ready(cli: Cli) -> Cli:
    """A CLI on a migrated database (a template copy; tests/cli/test_db.py runs the command)."""
    migrate(cli.url)
    return cli


@pytest.fixture
def engine(ready: Cli) -> Iterator[Engine]:
    eng = make_engine(DatabaseConfig(), url=ready.url)
    yield eng
    eng.dispose()
