"""Issue #18 item 6: subcommands load only when they run, and `sip2d --help` still lists all.

Measured through fresh processes, since the point is what one `sip2d` invocation imports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sip2d.cli import COMMANDS, LazyGroup, main

HEAVY = ("sqlalchemy", "alembic", "trio", "argon2", "sip2d.storage.models")


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def test_importing_the_cli_loads_no_subcommand() -> None:
    loaded = _python(
        "import sys, sip2d.cli\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(sorted(m for m in sys.modules if m.startswith('sip2d.cli.')))"
    ).splitlines()
    assert loaded == ["[]", "['sip2d.cli.common']"]


def test_one_subcommand_loads_only_its_own_module() -> None:
    loaded = _python(
        "import sys\n"
        "from sip2d.cli import main\n"
        "try:\n"
        "    main(['throttle', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('sip2d.cli.')))"
    )
    assert "sip2d.cli.throttle" in loaded
    for other in ("sip2d.cli.bench", "sip2d.cli.client", "sip2d.cli.serve", "sip2d.cli.demo"):
        assert other not in loaded


def test_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sip2d", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("Commands:", 1)[1]
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert names == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_table_entry_is_a_command_of_that_name(name: str) -> None:
    command = main.get_command(click.Context(main), name)
    assert command is not None and command.name == name


def test_a_group_can_be_spread_over_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "extra_patron_commands.py").write_text(
        "import click\n"
        "@click.group(name='patron')\n"
        "def command() -> None: ...\n"
        "@command.command('wave')\n"
        "def wave() -> None:\n"
        "    click.echo('hello from another module')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    group = LazyGroup(name="sip2d", lazy={"patron": ("sip2d.cli.patron", "extra_patron_commands")})
    result = CliRunner().invoke(group, ["patron", "wave"])
    assert result.output == "hello from another module\n"
    help_text = CliRunner().invoke(group, ["patron", "--help"]).output
    assert "set-pin" in help_text and "wave" in help_text
