"""Circulation rules run on a migrated database on each engine, with the store's fixtures."""

from __future__ import annotations

from tests.storage.conftest import engine, migrated_url

__all__ = ["engine", "migrated_url"]
