"""The audit trail: one row per staff or self-service action that changes a record.

Every command that deletes or changes patrons, items, accounts, PINs or fees writes here in the
same transaction as the change, so the trail can never disagree with the data. Callers pass
only non-secret facts; :func:`record_audit` refuses keys that name a secret, so a slip cannot
put a PIN or token into the database in clear.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from sip2d.storage.models import audit_events
from sip2d.storage.sqltime import utcnow

# Keys that must never reach the trail, whatever their value.
SECRET_KEYS = frozenset({"pin", "new_pin", "current_pin", "password", "token", "code", "secret"})


def cli_actor() -> str:
    """Who runs a CLI command, as the trail names them (``cli:<os user>``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"cli:{user}"[:64]


def record_audit(
    target: Connection | Session,
    *,
    actor: str,
    action: str,
    subject: str = "",
    detail: Mapping[str, object] | None = None,
    at: datetime | None = None,
) -> None:
    """Add one event to the trail inside the caller's transaction."""
    facts = dict(detail or {})
    leaked = SECRET_KEYS.intersection(k.lower() for k in facts)
    if leaked:
        raise ValueError(f"audit detail must not carry secrets: {sorted(leaked)}")
    target.execute(
        insert(audit_events).values(
            at=at or utcnow(),
            actor=actor[:64],
            action=action[:64],
            subject=subject[:128],
            detail=json.dumps(facts, sort_keys=True, default=str) if facts else "",
        )
    )


def recent_audit(target: Connection | Session, limit: int = 50) -> list[dict[str, object]]:
    """The newest events first, as plain dicts (for ``sip2d audit`` and tests)."""
    rows = target.execute(
        select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
    ).mappings()
    return [dict(row) for row in rows]
