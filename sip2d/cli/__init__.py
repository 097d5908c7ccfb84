"""The `sip2d` command line: one entry point for serving, data management and tools.

Each area of the program owns one module here and exposes a click command or group named
``command``; this file only lists them in :data:`COMMANDS` and turns configuration errors into a
single line and a non-zero exit, so ops never see a traceback for their own mistakes.

Subcommands load lazily: importing every module (SQLAlchemy, Alembic, trio, argon2) costs over
half a second, and a command needs only its own. `sip2d --help` still lists them all, by
importing each to read its help text; that is the one path that pays for everything.
"""

from __future__ import annotations

import importlib

import click

from sip2d.cli.common import CliState

# Subcommand name -> the module whose ``command`` it is. Adding a module is adding a line; a
# tuple names several modules whose ``command`` groups of that name are merged into one (the
# first one's help and options apply), so one area's commands can live in more than one room.
COMMANDS: dict[str, str | tuple[str, ...]] = {
    "serve": "sip2d.cli.serve",
    "client": "sip2d.cli.client",
    "db": "sip2d.cli.db",
    "patron": ("sip2d.cli.patron", "sip2d.cli.desk"),
    "item": "sip2d.cli.item",
    "account": "sip2d.cli.account",
    "policy": "sip2d.cli.policy",
    "fee": "sip2d.cli.fee",
    "hold": "sip2d.cli.hold",
    "throttle": "sip2d.cli.throttle",
    "import": "sip2d.cli.imports",
    "demo": "sip2d.cli.demo",
    "auth": "sip2d.cli.auth",
    "bench": "sip2d.cli.bench",
    "web": "sip2d.cli.web",
    "mail": "sip2d.cli.mail",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported from :data:`COMMANDS` when first asked for."""

    def __init__(
        self, *args: object, lazy: dict[str, str | tuple[str, ...]], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self._lazy:
            return super().get_command(ctx, cmd_name)
        where = self._lazy[cmd_name]
        first, *more = (where,) if isinstance(where, str) else where
        loaded = _command_of(first, cmd_name)
        for module in more:
            part = _command_of(module, cmd_name)
            if not isinstance(loaded, click.Group) or not isinstance(part, click.Group):
                raise TypeError(f"{cmd_name}: only groups can be merged ({module})")
            for sub in part.commands.values():
                loaded.add_command(sub)
        self.add_command(loaded)
        return loaded


def _command_of(module: str, name: str) -> click.Command:
    """``module.command``, checked: a wrong table entry fails loudly, not as "no such command"."""
    loaded = importlib.import_module(module).command
    if not isinstance(loaded, click.Command) or loaded.name != name:
        raise TypeError(f"{module}.command is not a click command named {name!r}")
    return loaded


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar="SIP2D_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML configuration file (default: built-in defaults). Env: SIP2D_CONFIG.",
)
@click.version_option(package_name="sip2d")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """sip2d: SIP2 server for library self-check kiosks."""
    ctx.obj = CliState(config_path)
