"""State and helpers shared by every CLI command."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import click

from sip2d.config import Config, ConfigError, load_config


@dataclass
class CliState:
    """What the top-level group hands to subcommands: the config, loaded on first use."""

    config_path: str | None
    _config: Config | None = field(default=None, init=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._config


pass_state = click.make_pass_decorator(CliState)


def now_utc() -> datetime:
    """The current time as the store keeps it (:func:`sip2d.storage.sqltime.stored_now`;
    imported here, not at the top, so ``import sip2d.cli`` stays free of SQLAlchemy)."""
    from sip2d.storage.sqltime import stored_now

    return stored_now()
