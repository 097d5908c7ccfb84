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
from tests.server.conftest import BOB, ITEMS

CHANGE_CHECKS = ("CX-01", "CX-02", "CX-03", "CX-04", "CX-05", "CX-06")


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


async def test_allow_changes_leaves_a_loan_it_did_not_make(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    """#17 item 3: the profile's item already on loan is a skipped precondition, not a FAIL,
    and the suite does not check in the loan the patron already had."""
    running = await start_sip2d(nursery, sip2d_config(tmp_path, sqlite_url))
    client = await running.logged_in()
    taken = await client.checkout(BOB[0], ITEMS[0], BOB[1], institution="MAIN")
    assert getattr(taken.message, "ok", False)
    report = await run_suite(running.port, allow_changes=True, only=CHANGE_CHECKS)
    assert failed(report) == set(), explain(report)
    for result in report.results:
        assert result.status is Status.SKIP, result.check.id
        assert "precondition not met" in result.detail and ITEMS[0] in result.detail
        assert not any(n.startswith("restored") for n in result.notes), result.notes
    still = (await client.item_information(ITEMS[0])).message
    assert getattr(still, "circulation_status", None) == "04", "the patron's loan must remain"
    await client.aclose()
    running.daemon.stop()
