"""Counting stored PIN and password records by pepper key id and argon2 cost.

Pepper rotation and a change of argon2 parameters both end when no record is left under the old
key or cost; ``sip2d auth status`` shows that from these counts. Records are streamed, never
loaded all at once, so a million patrons cost memory for one batch only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import Connection, select

from sip2d.storage.models import kiosk_accounts, patrons

# (record kind, pepper key id, scheme) -> count; kind is "patron PINs" or "kiosk passwords".
Census = Counter[tuple[str, str, str]]


def count_secret_records(
    conn: Connection, classify: Callable[[str | None], tuple[str, str]]
) -> Census:
    """How many patron PINs and kiosk passwords fall under each (key id, scheme)."""
    census: Census = Counter()
    for kind, column in (
        ("patron PINs", patrons.c.pin_hash),
        ("kiosk passwords", kiosk_accounts.c.password_hash),
    ):
        result = conn.execution_options(yield_per=5000).execute(select(column))
        for partition in result.partitions():
            for (record,) in partition:
                census[(kind, *classify(record))] += 1
    return census
