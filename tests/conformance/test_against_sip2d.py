"""The suite against sip2d in its default configuration, on SQLite and on PostgreSQL.

sip2d is written to the protocol reference the suite checks, so every check must pass (BX-02
has nothing to judge: the test account may use every message). This is the suite's proof of
not crying wolf; the fault tests prove it does cry when it should.
"""

from __future__ import annotations

from pathlib import Path

import trio

from conformance.model import Status
from tests.conformance.conftest import explain, failed, run_suite, sip2d_config, start_sip2d


async def test_default_sip2d_passes_everything(
    nursery: trio.Nursery, tmp_path: Path, database_url: str
) -> None:
    running = await start_sip2d(nursery, sip2d_config(tmp_path, database_url))
    report = await run_suite(running.port, allow_changes=True, allow_lockout=True)
    assert failed(report) == set(), explain(report)
    assert report.exit_code == 0
    skipped = {r.check.id: r.detail for r in report.results if r.status is Status.SKIP}
    assert skipped == {"BX-02": "the BX announces every message"}
    # The data-changing checks said what they restored.
    notes = [n for r in report.results for n in r.notes]
    assert any(n.startswith("restored: checked item 2001 back in (ok)") for n in notes)
    running.daemon.stop()
