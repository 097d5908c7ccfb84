"""A separate process for the shared-limit tests: ``python -m tests.auth.throttle_worker``.

Modes (arguments after the database URL):

* ``fail PATRON_ID COUNT TAG GO_FILE`` — print ``ready``, wait until GO_FILE exists (so two
  workers start together), then record COUNT wrong PINs for the patron and COUNT source
  failures (distinct barcodes TAG-0, TAG-1, ...) from account ``kiosk1``/address ``10.9.8.7``,
  one transaction each, as a daemon would;
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
CFG = ThrottleConfig(max_failures=1000, spray_slowdown_after=5, spray_block_after=1000)
ACCOUNT, ADDRESS = "kiosk1", "10.9.8.7"


def main(argv: list[str]) -> None:
    url, mode, patron_id = argv[0], argv[1], int(argv[2])
    runner = DatabaseRunner(make_engine(DatabaseConfig(pool_size=1), url=url))
    if mode == "fail":
        count, tag, go = int(argv[3]), argv[4], Path(argv[5])
        runner.read_sync(lambda conn: None)  # connect before the start line
        print("ready", flush=True)
        deadline = time.monotonic() + 30
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        for i in range(count):

            def fail(conn: Connection, i: int = i) -> None:
                throttle.record_patron_failure(conn, patron_id, CFG, NOW)
                throttle.record_source_failure(
                    conn,
                    CFG,
                    account=ACCOUNT,
                    address=ADDRESS,
                    patron_barcode=f"{tag}-{i}",
                    now=NOW,
                )

            runner.write_sync(fail)
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
