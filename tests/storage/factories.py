"""Rows for tests, inserted through Core like the daemon does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert

from sip2d.storage.models import items, kiosk_accounts, patrons


def add_patron(engine: Engine, barcode: str, **values: Any) -> int:
    with engine.begin() as conn:
        key = conn.execute(insert(patrons).values(barcode=barcode, **values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def add_item(engine: Engine, barcode: str, **values: Any) -> int:
    with engine.begin() as conn:
        key = conn.execute(insert(items).values(barcode=barcode, **values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def add_account(engine: Engine, login: str, **values: Any) -> int:
    values.setdefault("password_hash", "x")
    with engine.begin() as conn:
        key = conn.execute(
            insert(kiosk_accounts).values(login=login, **values)
        ).inserted_primary_key
    assert key is not None
    return int(key[0])
