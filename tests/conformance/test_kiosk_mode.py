"""Kiosk mode driven by a scripted kiosk (sip2d's SipClient) over real TCP.

One well-behaved session must pass every kiosk check; a run whose sessions contain a known list
of faults must fail exactly the checks that name those faults; a kiosk that connects and sends
nothing fails KS-01. The reference ACS is the real sip2d daemon on a temporary SQLite database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import trio

from conformance.kiosk.checks import KIOSK_CHECKS
from conformance.kiosk.runner import run_kiosk_suite
from conformance.mask import Masker
from conformance.model import Report, Status
from conformance.profile import Login, Patron, Profile, Secret
from conformance.report import render_text
from sip2d.client import SipClient
from sip2d.protocol import ItemInformationRequest, compute_checksum
from tests.conformance.conftest import explain, failed

KIOSK_PROFILE = Profile(
    name="scripted kiosk",
    institution_id="MAIN",
    login=Login("selfcheck", Secret("kiosk-secret"), "FRONT"),
    patron=Patron("1001", Secret("4826")),
    second_patron=Patron("1002", Secret("5930")),
    item="2001",
)

Script = Callable[[tuple[str, int]], Awaitable[None]]


async def judged(script: Script, connections: int = 1) -> Report:
    """Run the kiosk suite, drive it with ``script`` once it listens, return the report."""
    result: dict[str, Report] = {}
    address: dict[str, tuple[str, int]] = {}
    ready = trio.Event()

    def on_ready(where: tuple[str, int]) -> None:
        address["at"] = where
        ready.set()

    async def suite() -> None:
        result["report"] = await run_kiosk_suite(
            KIOSK_PROFILE, "127.0.0.1:0", connections=connections, ready=on_ready, max_seconds=30
        )

    async with trio.open_nursery() as nursery:
        nursery.start_soon(suite)
        await ready.wait()
        await script(address["at"])
    return result["report"]


async def logged_in(address: tuple[str, int]) -> SipClient:
    client = await SipClient.connect(*address, timeout=5.0)
    assert await client.login("selfcheck", "kiosk-secret", "FRONT")
    return client


async def raw(
    client: SipClient,
    body: bytes,
    *,
    terminator: bytes = b"\r",
    lowercase: bool = False,
    corrupt: bool = False,
    trailer: bool = True,
    skip: int = 0,
) -> bytes:
    """Send a hand-made body sealed like the client would (or spoiled as asked); one answer."""
    if trailer:
        client.sequence = (client.sequence + skip) % 10
        prefix = body + b"AY%dAZ" % client.sequence
        client.sequence = (client.sequence + 1) % 10
        digits = compute_checksum(prefix)
        if corrupt:
            digits = f"{(int(digits, 16) + 1) & 0xFFFF:04X}"
        if lowercase:
            digits = digits.lower()
        body = prefix + digits.encode()
    await client.send_raw(body + terminator)
    return await client.receive_frame()


DATE = b"20250102    101112"


async def good_session(address: tuple[str, int]) -> None:
    client = await logged_in(address)
    await client.sc_status()
    await client.patron_status("1001", "4826", institution="MAIN")
    assert (await client.checkout("1001", "2001", "4826", institution="MAIN")).message.ok
    await client.item_information("2001", institution="MAIN")
    await client.send_raw(b"97AZFEF5\r")  # a proper resend request
    await client.receive_frame()
    await client.checkin("2001", location="FRONT", institution="MAIN")
    await client.end_session("1001", institution="MAIN")
    await client.aclose()


async def test_a_good_kiosk_passes() -> None:
    report = await judged(good_session)
    assert failed(report) == set(), explain(report)
    skipped = {r.check.id for r in report.results if r.status is Status.SKIP}
    assert skipped == {"KE-06"}  # the reference ACS never needed to ask for a resend
    assert report.exit_code == 0
    assert {r.check.id for r in report.results} == {c.id for c in KIOSK_CHECKS}


async def faulty_sessions(address: tuple[str, int]) -> None:
    # Connection 1: a patron request before 93, then a login with the wrong password.
    first = await SipClient.connect(*address, timeout=5.0)
    await first.patron_status("1001")
    assert not await first.login("selfcheck", "wrong-password", "FRONT")
    await first.aclose()

    # Connection 2: framing and error-detection faults.
    client = await logged_in(address)
    await raw(client, b"9900401.00")  # announces protocol 1.00
    await raw(client, b"23000" + DATE + b"AOMAIN|AA1001|AC|AD|", terminator=b"\r\n")
    await raw(client, b"17" + DATE + b"AOMAIN|AB2001|", lowercase=True)
    answer = await raw(client, b"17" + DATE + b"AOMAIN|AB2001|", corrupt=True)
    assert answer.startswith(b"96")
    await raw(client, b"9900402.00")  # not the resend the 96 asked for
    await raw(client, b"97", skip=0)  # a 97 with AY
    await raw(client, b"9900402.00", skip=1)  # a sequence number skipped
    pair = client.encode(client_item(client)) + client.encode(client_item(client))
    await client.send_raw(pair)  # two requests without waiting
    await client.receive_frame()
    await client.receive_frame()
    await raw(client, b"9900402.00", trailer=False)  # error detection off for one request
    await client.aclose()

    # Connection 3: field-format faults, with good 99s in between so the ACS keeps talking.
    client = await logged_in(address)
    await raw(client, b"9900402.0")  # fixed part one character short
    await raw(client, b"9900402.00")
    await raw(client, b"23000" + DATE + b"AOMAIN|AC|AD|")  # no AA
    await raw(client, b"9900402.00")
    await raw(client, b"63000" + DATE + b"NNNNNNNNNN" + b"AOMAIN|AA1001|")  # N, not space
    await raw(client, b"23000" + b" " * 18 + b"AOMAIN|AA1001|AC|AD|")  # blank date
    await raw(client, b"990 402.00")  # print width " 40"
    await raw(client, b"17" + DATE + b"AOMAIN|AB2001")  # no final |
    await raw(client, b"23000" + DATE + b"AOMAIN|AA1001|AA1002|AC|AD|")  # AA twice
    await raw(client, b"17" + DATE + b"AOMAIN|AB" + b"9" * 300 + b"|")  # 300-byte value
    await raw(client, b"23000" + DATE + b"AD|AC|AA1001|AOMAIN|")  # fields reversed
    await raw(client, b"24" + b" " * 14 + b"000" + DATE + b"AOMAIN|AA1001|AE|")  # a response id
    await client.aclose()

    # Connection 4: a login as another account, never followed by a successful one.
    last = await SipClient.connect(*address, timeout=5.0)
    assert not await last.login("other-kiosk", "kiosk-secret", "FRONT")
    await last.aclose()


def client_item(client: SipClient) -> ItemInformationRequest:
    return ItemInformationRequest(
        transaction_date=datetime(2025, 1, 2, 10, 11, 12),
        institution_id="MAIN",
        item_identifier="2001",
    )


async def test_a_faulty_kiosk_fails_exactly_its_faults() -> None:
    report = await judged(faulty_sessions, connections=4)
    expected = {c.id for c in KIOSK_CHECKS} - {"KS-01"}
    assert failed(report) == expected, explain(report)
    assert report.exit_code == 1
    details = {r.check.id: r.detail for r in report.results}
    assert "starts with 23, not 93" in details["KS-02"]
    # Connection 1's wrong password was made good by connection 2's login; connection 4's
    # refusal was not, and it is labelled with what was wrong (the account, not a password).
    assert details["KS-03"].startswith(
        "1 of 4 logins failed: the kiosk logged in as 'other-kiosk', not the profile's 'selfcheck'"
    )
    assert "CR LF" in details["KF-01"]
    assert "'1.00'" in details["KS-06"]
    assert "follows" in details["KE-03"]
    assert "after 96 the kiosk sent 99, not its 17 again" in details["KE-06"]
    text = render_text(report, Masker(KIOSK_PROFILE.secrets()))
    for secret in ("kiosk-secret", "4826", "wrong-password"):
        assert secret not in text


async def test_deliberate_wrong_passwords_are_not_a_failure() -> None:
    """A client's bad-password tests: refused logins each followed by a successful one, on the
    same connection or (the ACS having closed it) on the next; the labels say password."""

    async def session(address: tuple[str, int]) -> None:
        first = await SipClient.connect(*address, timeout=5.0)
        assert not await first.login("selfcheck", "wrong-password", "FRONT")
        await first.aclose()
        client = await SipClient.connect(*address, timeout=5.0)
        assert not await client.login("selfcheck", "also-wrong", "FRONT")
        assert await client.login("selfcheck", "kiosk-secret", "FRONT")
        await client.sc_status()
        await client.aclose()

    report = await judged(session, connections=2)
    result = report.result("KS-03")
    assert result.status is Status.PASS, explain(report)
    assert result.notes == [
        "connection 1: a refused login (the kiosk's password for 'selfcheck' is not the "
        "profile's) was followed by a successful one",
        "connection 2: a refused login (the kiosk's password for 'selfcheck' is not the "
        "profile's) was followed by a successful one",
    ]


async def test_a_kiosk_that_sends_nothing_fails_ks01() -> None:
    async def connect_and_leave(address: tuple[str, int]) -> None:
        client = await SipClient.connect(*address)
        await client.aclose()

    report = await judged(connect_and_leave)
    assert failed(report) == {"KS-01"}, explain(report)
    assert all(r.status is Status.SKIP for r in report.results if r.check.id != "KS-01"), explain(
        report
    )
