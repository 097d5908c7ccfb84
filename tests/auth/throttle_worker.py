"""A separate process for the shared-limit tests: ``python -m tests.auth.throttle_worker``.

Two daemons on one database must share every limit, which only a second process can show: a
lock or counter kept in memory would pass any single-process test. Modes (arguments after the
database URL):

* ``charge PATRON_ID COUNT TAG GO_FILE MAX_FAILURES`` — print ``ready``, wait until GO_FILE
  exists (so two workers start together), then reserve COUNT PIN attempts with
  :func:`throttle.reserve_pin_attempt`, one transaction each as the gate makes them, against
  the patron and the source ``kiosk1``/``10.9.8.7``. Each attempt names a distinct card
  (TAG-0, TAG-1, ...) so that every charge also counts as a new card for the source. Prints
  ``{"charged": N, "refused": M}``;
* ``state PATRON_ID`` — print what this process sees: the patron's failure count and lock,
  and the source's state, as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select

from sip2d.auth import throttle
from sip2d.config import DatabaseConfig, ThrottleConfig
from sip2d.storage.engine import make_engine
from sip2d.storage.models import patrons
from sip2d.storage.runner import DatabaseRunner

NOW = datetime(2025, 3, 4, 10, 0, 0)
ACCOUNT, ADDRESS = "kiosk1", "10.9.8.7"
# High enough that two workers' attempts are never refused (the spray block stays far away;
# the slowdown is reached so the test can see it).
HIGH_LIMIT = 1000


def limits(max_failures: int) -> ThrottleConfig:
    return ThrottleConfig(
        max_failures=max_failures, spray_slowdown_after=5, spray_block_after=HIGH_LIMIT
    )


CFG = limits(HIGH_LIMIT)


def charge(
    runner: DatabaseRunner, patron_id: int, count: int, tag: str, cfg: ThrottleConfig
) -> dict[str, int]:
    """Reserve ``count`` attempts one transaction at a time; how many were charged/refused."""
    tally = {"charged": 0, "refused": 0}
    for i in range(count):

        def reserve(conn: Connection, i: int = i) -> throttle.PinReservation:
            return throttle.reserve_pin_attempt(
                conn,
                cfg,
                patron_id=patron_id,
                barcode=f"{tag}-{i}",
                account=ACCOUNT,
                address=ADDRESS,
                now=NOW,
            )

        reservation = runner.write_sync(reserve)
        tally["refused" if reservation.refused else "charged"] += 1
    return tally


def main(argv: list[str]) -> None:
    url, mode, patron_id = argv[0], argv[1], int(argv[2])
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=1), url=url))
    if mode == "charge":
        count, tag, go, max_failures = int(argv[3]), argv[4], Path(argv[5]), int(argv[6])
        runner.read_sync(lambda conn: None)  # connect before the start line
        print("ready", flush=True)
        deadline = time.monotonic() + 30
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        print(json.dumps(charge(runner, patron_id, count, tag, limits(max_failures))))
        return

    def look(conn: Connection) -> dict[str, object]:
        row = conn.execute(
            select(patrons.c.pin_failures, patrons.c.pin_locked_until).where(
                patrons.c.id == patron_id
            )
        ).one()
        state = throttle.source_state(conn, CFG, account=ACCOUNT, address=ADDRESS, now=NOW)
        return {
            "pin_failures": row.pin_failures,
            "locked": row.pin_locked_until is not None,
            "source_failures": state.failures,
            "delay": state.delay,
        }

    print(json.dumps(runner.read_sync(look)))


if __name__ == "__main__":
    main(sys.argv[1:])
