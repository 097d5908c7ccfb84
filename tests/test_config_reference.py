"""docs/ops/configuration.md is generated from the config schema and must be current."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sip2d import config_reference
from sip2d.config import Config
from sip2d.tomlschema import walk

REPO = Path(__file__).resolve().parents[1]


def test_the_configuration_reference_is_current() -> None:
    written = (REPO / config_reference.OUTPUT).read_text(encoding="utf-8")
    assert written == config_reference.render(), (
        f"{config_reference.OUTPUT} is out of date: run "
        f"`.venv/bin/python -m sip2d.config_reference > {config_reference.OUTPUT}`"
    )


def test_every_key_and_range_is_in_the_reference() -> None:
    page = config_reference.render()

    def keys(cls: type) -> list[str]:
        found = []
        for name, _field, hint in walk(cls):
            table, _ = config_reference._table_class(hint)
            found += keys(table) if table is not None else [name]
        return found

    for key in keys(Config):
        assert f"| `{key}` |" in page, key
    assert "| `max_connections` | whole number; at least 1 | `20000` |" in page
    assert "ISO 4217" in page and "[auth.argon2]" in page and "[[listener]]" in page
    assert dataclasses.is_dataclass(Config)
