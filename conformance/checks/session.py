"""Session rules: 93 Login, what happens before it, keep-alive 99s and unknown message ids.

Reference sections 1, 7.1, 9.2 and 9.4, pitfalls P15, P16, P33, P34. Implementations differ on
what to do before a login (answer, refuse, close); what the reference forbids everywhere is
silence, which makes a kiosk wait for its whole timeout and retry.
"""

from __future__ import annotations

from conformance import requests
from conformance.checks.context import CheckSession
from conformance.checks.detection import check_96
from conformance.judge import expect
from conformance.model import MUST, SHOULD, CheckFailed, check
from conformance.wire import Closed
from sip2d.protocol import ACSStatus, LoginResponse, PatronStatusResponse

GROUP = "Session"


def wrong_password(real: str) -> str:
    return real + "-not" if real else "not-the-password"


@check("SE-01", "93 Login with the profile's credentials is accepted (941)", "§7.1", MUST, GROUP)
async def login_ok(s: CheckSession) -> None:
    s.require_login()
    wire = await s.connect(login=False)
    reply = await s.ask(wire, requests.login(s.profile), LoginResponse)
    assert isinstance(reply, LoginResponse)
    if not reply.ok:
        raise CheckFailed("the profile's kiosk login was refused (940): check [login]")


@check("SE-02", "93 Login with a wrong password is refused with 940, not silence", "§7.1, P34",
       MUST, GROUP)  # fmt: skip
async def login_wrong(s: CheckSession) -> None:
    s.require_login()
    assert s.profile.login is not None
    wire = await s.connect(login=False)
    bad = requests.login(s.profile, password=wrong_password(s.profile.login.password.reveal()))
    reply = await s.ask(wire, bad, LoginResponse)
    assert isinstance(reply, LoginResponse)
    if reply.ok:
        raise CheckFailed("a wrong kiosk password was accepted (941)")
    try:
        retry = await s.ask(wire, requests.login(s.profile), LoginResponse)
    except Closed:
        s.note("the server closes the connection after 940 (kiosks must reconnect)")
        return
    assert isinstance(retry, LoginResponse)
    s.note(
        "after 940 the kiosk may retry on the same connection"
        if retry.ok
        else "after 940 a retry with the right password was refused on the same connection"
    )


@check("SE-03", "93 Login with a non-zero UID/PWD algorithm is refused", "§5.10, P33", SHOULD,
       GROUP)  # fmt: skip
async def login_algorithm(s: CheckSession) -> None:
    s.require_login()
    wire = await s.connect(login=False)
    try:
        reply = await s.ask(wire, requests.login(s.profile, algorithms="11"), LoginResponse)
    except Closed:
        s.note("the server closed the connection")
        return
    assert isinstance(reply, LoginResponse)
    if reply.ok:
        raise CheckFailed("the login was accepted although the algorithms were 1/1, not 0/0")


@check("SE-04", "99 before 93 is answered with 98 (or the connection is closed)", "§9.2, P15",
       SHOULD, GROUP)  # fmt: skip
async def status_before_login(s: CheckSession) -> None:
    s.require_login()
    wire = await s.connect(login=False)
    try:
        frame = await wire.request(requests.sc_status())
    except Closed:
        if s.profile.status_before_login:
            raise CheckFailed(
                "the connection was closed; the profile says 99 is answered before 93"
            ) from None
        s.note("the server closes the connection on a 99 before 93")
        return
    expect(frame, ACSStatus, s.encoding)


@check("SE-05", "Other requests before 93 are refused or the connection closed, never silence",
       "§9.2, P15", SHOULD, GROUP)  # fmt: skip
async def request_before_login(s: CheckSession) -> None:
    s.require_login()
    patron = s.require_patron()
    wire = await s.connect(login=False)
    try:
        frame = await wire.request(requests.patron_status(s.profile, patron.barcode))
    except Closed:
        s.note("the server closes the connection on a request before 93")
        return
    if frame.message_id == "96":
        s.note("the server answers requests before 93 with 96")
        return
    reply = expect(frame, PatronStatusResponse, s.encoding)
    assert isinstance(reply, PatronStatusResponse)
    if reply.valid_patron or reply.personal_name:
        raise CheckFailed(
            "the server answered a 23 before any 93 with the patron's details: it does not "
            "require the kiosk to log in"
        )


@check("SE-06", "99 sent repeatedly (keep-alive) gets a 98 every time", "§1, P16", MUST, GROUP)
async def keep_alive(s: CheckSession) -> None:
    wire = await s.connect()
    for _ in range(3):
        expect(await wire.request(requests.sc_status()), ACSStatus, s.encoding)


@check("SE-07", "An unknown message id is answered with 96 (or the connection closed)",
       "§9.4", SHOULD, GROUP)  # fmt: skip
async def unknown_message(s: CheckSession) -> None:
    wire = await s.connect()
    await wire.send(wire.seal(b"88" + requests.now().strftime("%Y%m%d    %H%M%S").encode()),
                    judge=False)  # fmt: skip
    try:
        frame = await wire.receive()
    except Closed:
        s.note("the server closes the connection on an unknown message id")
        return
    check_96(frame)


CHECKS = (
    login_ok,
    login_wrong,
    login_algorithm,
    status_before_login,
    request_before_login,
    keep_alive,
    unknown_message,
)
