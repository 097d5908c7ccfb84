"""The kiosk checks: rules judged over every frame the kiosk sent during the observed sessions.

Same vocabulary as the server checks (id, title, reference section, severity), same strict
validation (:mod:`conformance.judge`, which sorts sip2d's strict-validation problems into the
rule they break) applied to the kiosk's requests, plus the rules only a whole session shows:
the first message, the login, one request at a time, sequence numbers, resends after a 96 and
a 35 after each patron. Reference sections 1, 2, 3, 4, 7 and 9.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from conformance import judge
from conformance.kiosk.observer import ACS, KIOSK, Observation, Observed
from conformance.model import MUST, SHOULD, Check, CheckFailed, CheckSkipped, check
from conformance.profile import Profile
from conformance.wire import Recorder
from sip2d.protocol import LoginRequest, LoginResponse, SCStatus, verify_checksum
from sip2d.protocol.trailer import split_trailer

REQUEST_IDS = frozenset(
    {"93", "99", "97", "23", "63", "11", "09", "17", "19", "25", "35", "37", "15", "29", "65", "01"}
)
PATRON_REQUESTS = frozenset({"23", "63", "11", "29", "65", "15", "37", "25", "01"})
SHOWN = 5
_AZ_TAIL = re.compile(rb"AZ([0-9A-Za-z]{1,5})$")
_CANONICAL_CHECKSUM = re.compile(rb"[0-9A-F]{4}")

Offence = tuple[Observation, Observed, str]


class KioskSession:
    """What a kiosk check reads: the profile, every observed connection, a recorder for output."""

    def __init__(self, profile: Profile, observations: list[Observation], recorder: Recorder):
        self.profile = profile
        self.observations = observations
        self.recorder = recorder
        self.notes: list[str] = []

    @property
    def encoding(self) -> str:
        return self.profile.encoding

    def requests(self) -> list[tuple[Observation, Observed]]:
        found = [(obs, o) for obs in self.observations for o in obs.requests()]
        if not found:
            raise CheckSkipped("the kiosk sent no request")
        return found

    def note(self, text: str) -> None:
        self.notes.append(text)

    def fail(self, offences: list[Offence], total: int, what: str) -> None:
        """Show the first offending frames (and the ACS's answer) and fail with a summary."""
        if not offences:
            return
        for obs, observed, problem in offences[:SHOWN]:
            self.recorder.event(obs.number, problem)
            self.recorder.record(obs.number, "sent", observed.frame.raw)
            answer = _answer_to(obs, observed)
            if answer is not None:
                self.recorder.record(obs.number, "received", answer.frame.raw)
        distinct: list[str] = []
        for _obs, _observed, problem in offences:
            if problem not in distinct:
                distinct.append(problem)
        more = f" (+{len(distinct) - SHOWN} more kinds)" if len(distinct) > SHOWN else ""
        raise CheckFailed(
            f"{len(offences)} of {total} {what}: " + "; ".join(distinct[:SHOWN]) + more
        )


def _answer_to(obs: Observation, request: Observed) -> Observed | None:
    index = obs.frames.index(request)
    for later in obs.frames[index + 1 :]:
        if later.origin == ACS:
            return later
        return None
    return None


def _judge_each(
    s: KioskSession,
    test: Callable[[Observation, Observed], str | None],
    what: str,
    frames: list[tuple[Observation, Observed]] | None = None,
) -> None:
    chosen = s.requests() if frames is None else frames
    offences: list[Offence] = []
    for obs, observed in chosen:
        problem = test(obs, observed)
        if problem is not None:
            offences.append((obs, observed, problem))
    s.fail(offences, len(chosen), what)


# --- framing and field formats --------------------------------------------------------------

FRAMING = "Kiosk framing and field formats"


@check("KF-01", "Requests end with CR (not CR LF, not LF)", "§2.2, P1", MUST, FRAMING,
       review=True)  # fmt: skip
async def request_terminator(s: KioskSession) -> None:
    def test(_obs: Observation, o: Observed) -> str | None:
        if o.frame.terminator != b"\r":
            name = {b"\r\n": "CR LF", b"\n": "a bare LF"}.get(o.frame.terminator, "?")
            return f"{o.frame.message_id} ends with {name}"
        if b"\n" in o.frame.leading:
            return f"an LF preceded this {o.frame.message_id}: the previous request ended CR LF"
        return None

    _judge_each(s, test, "requests are terminated wrongly")


def _known(s: KioskSession) -> list[tuple[Observation, Observed]]:
    found = [(obs, o) for obs, o in s.requests() if o.frame.message_id in REQUEST_IDS]
    if not found:
        raise CheckSkipped("the kiosk sent no request with a known message id")
    return found


def _format_check(rule: str, kiosk_id: str, title: str, section: str) -> Check:
    async def run(s: KioskSession) -> None:
        def test(_obs: Observation, o: Observed) -> str | None:
            found = [text for r, text in judge.format_problems(o.frame, s.encoding) if r == rule]
            return f"{o.frame.message_id}: {found[0]}" if found else None

        _judge_each(s, test, "requests break this rule", _known(s))

    return check(kiosk_id, title, section, MUST, FRAMING, review=True)(run)


FORMAT_CHECKS = (
    _format_check(judge.FIXED_LENGTH, "KF-02", "Fixed parts have exactly the lengths of §7.17",
                  "§7.17"),
    _format_check(judge.REQUIRED, "KF-03", "Required fields are present (possibly empty)", "§7"),
    _format_check(judge.FLAGS, "KF-04", "Flags follow their convention (Y/N, Y/space, 0/1)",
                  "§4.2, P11"),
    _format_check(judge.DATES, "KF-05", "Dates are 18 characters, YYYYMMDDZZZZHHMMSS", "§4.1"),
    _format_check(judge.NUMBERS, "KF-06", "Numeric fixed fields are digits of full width",
                  "§4.3"),
    _format_check(judge.DELIMITERS, "KF-07", "Every variable field ends with |, the last one too",
                  "§2.1, P23"),
    _format_check(judge.FIELD_SYNTAX, "KF-08", "Field identifiers are well formed, not repeated",
                  "§2.1, §6"),
    _format_check(judge.VALUES, "KF-09", "Values fit in 255 bytes and are valid in the encoding",
                  "§2.4, §2.5"),
)  # fmt: skip


@check("KF-10", "Variable fields are sent in the reference's order", "§2.1, P14", SHOULD,
       FRAMING, review=True)  # fmt: skip
async def request_order(s: KioskSession) -> None:
    def test(_obs: Observation, o: Observed) -> str | None:
        problem = judge.order_problem(o.frame, s.encoding)
        return None if problem is None else f"{o.frame.message_id}: {problem}"

    _judge_each(s, test, "requests have fields out of order", _known(s))


@check("KF-11", "Only SC-to-ACS message ids are sent", "§7", MUST, FRAMING, review=True)
async def request_ids(s: KioskSession) -> None:
    def test(_obs: Observation, o: Observed) -> str | None:
        mid = o.frame.message_id
        return None if mid in REQUEST_IDS else f"{mid!r} is not a request id"

    _judge_each(s, test, "frames are not requests")


# --- error detection ------------------------------------------------------------------------

DETECTION = "Kiosk error detection"


def _trailered(s: KioskSession) -> list[tuple[Observation, Observed]]:
    found = [(obs, o) for obs, o in s.requests() if _AZ_TAIL.search(o.frame.body)]
    if not found:
        raise CheckSkipped("the kiosk sent no checksum")
    return found


@check("KE-01", "Request checksums verify", "§3.1, P2, P5", MUST, DETECTION, review=True)
async def request_checksums(s: KioskSession) -> None:
    def test(_obs: Observation, o: Observed) -> str | None:
        if verify_checksum(o.frame.body):
            return None
        return f"{o.frame.message_id}: checksum {o.frame.body[-4:]!r} does not verify"

    _judge_each(s, test, "checksums are wrong", _trailered(s))


@check("KE-02", "Request checksums are exactly four upper-case hex digits", "§3.1, P3", MUST,
       DETECTION, review=True)  # fmt: skip
async def request_checksum_case(s: KioskSession) -> None:
    def test(_obs: Observation, o: Observed) -> str | None:
        match = _AZ_TAIL.search(o.frame.body)
        assert match is not None
        if _CANONICAL_CHECKSUM.fullmatch(match.group(1)):
            return None
        return f"{o.frame.message_id}: checksum written {match.group(1).decode('ascii')!r}"

    _judge_each(s, test, "checksums are not 4 upper-case digits", _trailered(s))


def _sequence(o: Observed) -> int | None:
    _body, trailer = split_trailer(o.frame.body)
    return None if trailer is None else trailer.sequence


@check("KE-03", "Sequence numbers go up by one (9 wraps to 0); a resend reuses its number",
       "§3.4, P38", SHOULD, DETECTION, review=True)  # fmt: skip
async def sequence_numbers(s: KioskSession) -> None:
    offences: list[Offence] = []
    total = 0
    for obs in s.observations:
        previous: Observed | None = None
        asked_resend = False
        for o in obs.frames:
            if o.origin == ACS:
                asked_resend = o.frame.message_id == "96"
                continue
            number = _sequence(o)
            if number is None:
                continue
            total += 1
            if previous is not None:
                before = _sequence(previous)
                assert before is not None
                resend = asked_resend or judge.body_of(o.frame) == judge.body_of(previous.frame)
                if number != (before + 1) % 10 and not (resend and number == before):
                    offences.append((obs, o, f"AY{number} follows AY{before}"))
            previous = o
    if not total:
        raise CheckSkipped("the kiosk sent no sequence number")
    s.fail(offences, total, "sequence numbers are out of step")


@check("KE-04", "97 carries no AY and no fields", "§3.4, §7.3", MUST, DETECTION, review=True)
async def resend_form(s: KioskSession) -> None:
    frames = [(obs, o) for obs, o in s.requests() if o.frame.message_id == "97"]
    if not frames:
        raise CheckSkipped("the kiosk sent no 97")

    def test(_obs: Observation, o: Observed) -> str | None:
        body, trailer = split_trailer(o.frame.body)
        if trailer is not None and trailer.sequence is not None:
            return "97 carries AY"
        return None if body == b"97" else f"97 carries more than its id: {body!r}"

    _judge_each(s, test, "97 frames are malformed", frames)


@check("KE-05", "Error detection is used as the profile says, on every request", "§3.5, P17",
       SHOULD, DETECTION, review=True)  # fmt: skip
async def detection_consistent(s: KioskSession) -> None:
    frames = s.requests()
    with_trailer = [(obs, o) for obs, o in frames if _AZ_TAIL.search(o.frame.body)]
    without = [(obs, o) for obs, o in frames if not _AZ_TAIL.search(o.frame.body)]
    mode = s.profile.error_detection
    if mode == "always" or (mode == "auto" and len(with_trailer) >= len(without)):
        odd, what = without, "request without AY/AZ trailer"
    else:
        odd, what = with_trailer, "request with an AY/AZ trailer"
    offences = [(obs, o, f"{o.frame.message_id}: {what}") for obs, o in odd]
    s.fail(offences, len(frames), "requests use error detection differently from the rest")


@check("KE-06", "After a 96 the kiosk resends its last request", "§3.4", SHOULD, DETECTION,
       review=True)  # fmt: skip
async def resends_after_96(s: KioskSession) -> None:
    offences: list[Offence] = []
    total = 0
    for obs in s.observations:
        last_request: Observed | None = None
        waiting = False
        for o in obs.frames:
            if o.origin == ACS:
                waiting = o.frame.message_id == "96" and last_request is not None
                continue
            if waiting and last_request is not None:
                total += 1
                if judge.body_of(o.frame) != judge.body_of(last_request.frame):
                    problem = (
                        f"after 96 the kiosk sent {o.frame.message_id}, "
                        f"not its {last_request.frame.message_id} again"
                    )
                    offences.append((obs, o, problem))
                waiting = False
            last_request = o
    if not total:
        raise CheckSkipped("the reference ACS never asked the kiosk to resend (96)")
    s.fail(offences, total, "resends are missing")


# --- session --------------------------------------------------------------------------------

SESSION = "Kiosk session"


@check("KS-01", "The kiosk sent requests (the session was used)", "§1", MUST, SESSION,
       review=True)  # fmt: skip
async def session_used(s: KioskSession) -> None:
    for obs in s.observations:
        for problem in obs.problems:
            s.note(f"connection {obs.number}: {problem}")
    if not s.observations:
        raise CheckFailed("no kiosk connected")
    if not any(obs.requests() for obs in s.observations):
        raise CheckFailed("the kiosk connected but sent no complete request")


@check("KS-02", "The first message is 93 Login (or 99 when the kiosk does not log in)", "§1",
       MUST, SESSION, review=True)  # fmt: skip
async def first_message(s: KioskSession) -> None:
    s.requests()
    expected = "93" if s.profile.kiosk.login_first and s.profile.login is not None else "99"
    firsts = [(obs, obs.requests()[0]) for obs in s.observations if obs.requests()]

    def test(_obs: Observation, o: Observed) -> str | None:
        mid = o.frame.message_id
        return None if mid == expected else f"the session starts with {mid}, not {expected}"

    _judge_each(s, test, "sessions start wrongly", firsts)


def _why_refused(s: KioskSession, request: Observed) -> str:
    """What was wrong with a refused 93, as far as the profile tells: the account, the
    password, the algorithms, or nothing the kiosk did (the profile's own credentials)."""
    received = judge.read(request.frame, s.encoding)
    login = s.profile.login
    if received is None or not isinstance(received.message, LoginRequest) or login is None:
        return "the reference ACS refused the login"
    sent = received.message
    if (sent.uid_algorithm, sent.pwd_algorithm) != ("0", "0"):
        return (f"the credentials were sent encrypted (algorithms {sent.uid_algorithm}/"
                f"{sent.pwd_algorithm}), which no server can read")  # fmt: skip
    if sent.login_user_id != login.user:
        return f"the kiosk logged in as {sent.login_user_id!r}, not the profile's {login.user!r}"
    if sent.login_password != login.password.reveal():
        return f"the kiosk's password for {login.user!r} is not the profile's"
    return "the reference ACS refused the profile's own account and password"


@check("KS-03", "The kiosk logs in with the profile's account (941); a refused login is later "
       "followed by a successful one", "§7.1", MUST, SESSION, review=True)  # fmt: skip
async def login_accepted(s: KioskSession) -> None:
    logins = [(obs, o) for obs, o in s.requests() if o.frame.message_id == "93"]
    if not logins:
        raise CheckSkipped("the kiosk sent no 93")

    def refusal(obs: Observation, o: Observed) -> str | None:
        answer = _answer_to(obs, o)
        received = judge.read(answer.frame, s.encoding) if answer is not None else None
        if received is None or not isinstance(received.message, LoginResponse):
            return "the login got no 94"
        return None if received.message.ok else _why_refused(s, o)

    judged = {id(o): refusal(obs, o) for obs, o in logins}
    successes = [o.at for _obs, o in logins if judged[id(o)] is None]
    offences: list[Offence] = []
    for obs, o in logins:
        why = judged[id(o)]
        if why is None:
            continue
        # Made good if, on this connection, the kiosk sent nothing but logins until one
        # succeeded, or nothing at all and logged in on a later connection: a deliberate
        # wrong-password test, or a retry after a typo.
        after = obs.requests()[obs.requests().index(o) + 1 :]
        retried = next(
            (a for a in after if a.frame.message_id == "93" and judged.get(id(a)) is None), None
        )
        before_success = after[: after.index(retried)] if retried is not None else after
        if any(a.frame.message_id != "93" for a in before_success):
            offences.append((obs, o, f"{why}; the kiosk went on without logging in"))
        elif retried is not None or any(at >= o.at for at in successes):
            s.note(f"connection {obs.number}: a refused login ({why}) was followed by a "
                   "successful one")  # fmt: skip
        else:
            offences.append((obs, o, f"{why}; no successful login followed"))
    s.fail(offences, len(logins), "logins failed")


@check("KS-04", "The kiosk waits for each response before sending the next request", "§1",
       MUST, SESSION, review=True)  # fmt: skip
async def one_at_a_time(s: KioskSession) -> None:
    offences: list[Offence] = []
    total = 0
    for obs in s.observations:
        outstanding = 0
        for o in obs.frames:
            if o.origin == KIOSK:
                total += 1
                if outstanding:
                    offences.append(
                        (obs, o, f"{o.frame.message_id} sent before the previous answer")
                    )
                outstanding += 1
            else:
                outstanding = max(0, outstanding - 1)
    if not total:
        raise CheckSkipped("the kiosk sent no request")
    s.fail(offences, total, "requests were pipelined")


def _patron_of(o: Observed, encoding: str) -> str | None:
    if o.frame.message_id not in PATRON_REQUESTS:
        return None
    received = judge.read(o.frame, encoding)
    if received is None:
        return None
    return getattr(received.message, "patron_identifier", None) or None


@check("KS-05", "Each patron's session ends with 35 End Patron Session", "§1, §7.12", SHOULD,
       SESSION, review=True)  # fmt: skip
async def patron_sessions_ended(s: KioskSession) -> None:
    if not s.profile.kiosk.end_session:
        raise CheckSkipped("the profile says this kiosk does not send 35")
    offences: list[Offence] = []
    patrons = 0
    for obs in s.observations:
        current: tuple[str, Observed] | None = None
        for o in obs.requests():
            if o.frame.message_id == "35":
                current = None
                continue
            patron = _patron_of(o, s.encoding)
            if patron is None:
                continue
            if current is not None and current[0] != patron:
                offences.append((obs, current[1], f"patron {current[0]} was not ended with 35 "
                                                  f"before patron {patron}"))  # fmt: skip
            if current is None or current[0] != patron:
                patrons += 1
            current = (patron, o)
        if current is not None:
            offences.append((obs, current[1], f"patron {current[0]} was not ended with 35 "
                                              "before the kiosk disconnected"))  # fmt: skip
    if not patrons:
        raise CheckSkipped("the kiosk served no patron")
    s.fail(offences, patrons, "patron sessions were not ended")


@check("KS-06", "99 SC Status announces protocol 2.00", "§7.2, P35", SHOULD, SESSION,
       review=True)  # fmt: skip
async def protocol_version(s: KioskSession) -> None:
    frames = [(obs, o) for obs, o in s.requests() if o.frame.message_id == "99"]
    if not frames:
        raise CheckSkipped("the kiosk sent no 99")

    def test(_obs: Observation, o: Observed) -> str | None:
        received = judge.read(o.frame, s.encoding)
        if received is None or not isinstance(received.message, SCStatus):
            return None  # a malformed 99 is the format checks' business
        version = received.message.protocol_version
        return None if version == "2.00" else f"99 announces protocol {version!r}"

    _judge_each(s, test, "99 frames announce another version", frames)


KIOSK_CHECKS: tuple[Check, ...] = (
    session_used,
    first_message,
    login_accepted,
    one_at_a_time,
    patron_sessions_ended,
    protocol_version,
    request_terminator,
    *FORMAT_CHECKS,
    request_order,
    request_ids,
    request_checksums,
    request_checksum_case,
    sequence_numbers,
    resend_form,
    detection_consistent,
    resends_after_96,
)
