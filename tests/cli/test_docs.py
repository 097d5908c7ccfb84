"""docs/cli.md gives every command an example, and every example parses: a renamed option or
a new command without documentation fails here, not in a reader's terminal."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from sip2d.cli import main
from sip2d.cli.client import ACTIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
# Shell around an example that is not part of the sip2d command line.
_SHELL_TAIL = re.compile(r"\s+(?:[0-9]?>|&|\|).*$")


def command_paths() -> list[tuple[str, ...]]:
    """Every runnable command as its words after `sip2d`, subcommand modules loaded lazily."""
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...], ctx: click.Context) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                walk(command, (*prefix, name), click.Context(command, parent=ctx))
            else:
                found.append((*prefix, name))

    walk(main, (), click.Context(main))
    return found


def examples() -> list[list[str]]:
    """The argument lists of the `sip2d ...` lines in the document's shell blocks."""
    text = DOC.read_text(encoding="utf-8")
    variables = dict(re.findall(r'^(\w+)="([^"]*)"$', text, flags=re.MULTILINE))
    runs: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0]
            if "sip2d " not in line:
                continue
            line = _SHELL_TAIL.sub("", line[line.index("sip2d ") :])
            for name, value in variables.items():
                line = line.replace(f"${name}", value)
            runs.append(shlex.split(line)[1:])
    return runs


def test_every_command_has_an_example() -> None:
    shown = examples()
    for path in command_paths():
        assert any(run[: len(path)] == list(path) or _after_options(run, path) for run in shown), (
            f"docs/cli.md has no example of `sip2d {' '.join(path)}`"
        )


def _after_options(run: list[str], path: tuple[str, ...]) -> bool:
    # `sip2d --config FILE patron ...`: the group's own options come first.
    words = [w for i, w in enumerate(run) if not w.startswith("-") and run[i - 1] != "--config"]
    return words[: len(path)] == list(path)


def test_every_client_action_has_an_example() -> None:
    shown = {run[run.index("client") + 1 :][i] for run in examples() if "client" in run
             for i in range(len(run) - run.index("client") - 1)}  # fmt: skip
    missing = [action for action in ACTIONS if action not in shown]
    assert missing == []


@pytest.mark.parametrize("run", examples(), ids=lambda run: " ".join(run)[:60])
def test_every_example_parses(
    run: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example's options and arguments are accepted by the command it names (parsed only,
    nothing runs; the files an example names exist, empty, in a scratch directory)."""
    monkeypatch.chdir(tmp_path)
    for word in run:
        if re.fullmatch(r"[\w.-]+\.(csv|tsv|pem|toml)", word):
            (tmp_path / word).touch()
    ctx = main.make_context("sip2d", list(run))
    command: click.Command = main
    args = [*ctx._protected_args, *ctx.args]
    while isinstance(command, click.Group) and args:
        name, sub, args = command.resolve_command(ctx, args)
        assert sub is not None, name
        ctx = sub.make_context(str(name), args, parent=ctx)
        command = sub
        args = [*ctx._protected_args, *ctx.args] if isinstance(sub, click.Group) else []
