"""`sip2d db upgrade` / `sip2d db current`, and the one-line errors of an unusable database."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sip2d.auth.hashing import Pepper
from sip2d.storage.migrate import head_revision
from tests.cli.conftest import Cli, write_config


def test_upgrade_then_current(cli: Cli) -> None:
    behind = cli.run("db", "current")
    assert behind.exit_code == 1
    if cli.sqlite_file is None:
        assert "current revision: none" in behind.output
    else:  # only `db upgrade` creates a SQLite file (#17 item 4)
        assert f"database file {cli.sqlite_file} does not exist" in behind.output
        assert not cli.sqlite_file.exists()
    assert "sip2d db upgrade" in behind.output

    first = cli.ok("db", "upgrade")
    assert f"upgraded from empty to revision {head_revision()}" in first.output
    again = cli.ok("db", "upgrade")
    assert "already at revision" in again.output

    current = cli.ok("db", "current")
    assert f"current revision: {head_revision()}" in current.output
    assert f"head revision:    {head_revision()}" in current.output
    assert "up to date" in current.output


def test_data_commands_refuse_an_unmigrated_database(cli: Cli) -> None:
    for args in (["patron", "list"], ["item", "show", "1"], ["account", "list"], ["demo"]):
        assert "sip2d db upgrade`" in cli.fails(*args)


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    pepper = Pepper.generate()
    for url in (
        f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}",
        "postgresql+psycopg://root:hunter22@127.0.0.1:1/test",
    ):
        cli = Cli(write_config(tmp_path, url, pepper), url, pepper, CliRunner())
        line = cli.fails("patron", "list")
        assert "cannot reach database" in line or "x.db does not exist" in line
        assert "hunter22" not in line


def test_bad_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[database]\nurl = 5\n", encoding="utf-8")
    cli = Cli(config, "", Pepper.generate(), CliRunner())
    assert "database.url" in cli.fails("db", "current")


def test_upgrade_sql_prints_ddl(cli: Cli) -> None:
    result = cli.ok("db", "upgrade", "--sql")
    assert "CREATE TABLE patrons" in result.output
    assert "uq_loans_open_item" in result.output
